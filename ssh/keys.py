"""The one parser of SSH public keys users paste: type allow-list, size caps, fingerprints."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from config.errors import AppError

ALLOWED_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
)
RSA_MIN_BITS = 2048
# An RSA key past 16384 bits only costs the server time at every login.
RSA_MAX_BITS = 16384
# A 16384-bit RSA key is about 2.8 KB of base64: anything past this is not a key.
MAX_LINE_CHARS = 4096
MAX_INPUT_CHARS = 64 * 1024
COMMENT_RE = re.compile(r"^[\x20-\x7e]{0,200}$")


@dataclass(frozen=True)
class PublicKey:
    key_type: str
    key_data: str
    fingerprint: str
    bits: int
    comment: str


def fingerprint(blob: bytes) -> str:
    """OpenSSH's SHA256 fingerprint (what `ssh-keygen -lf` prints)."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def parse_keys(text: str) -> list[PublicKey]:
    """Every key in ``text``, one per line (blank lines and # comments skipped).

    Raises AppError naming the first bad line; nothing is returned unless every line is good.
    """
    if len(text) > MAX_INPUT_CHARS:
        raise AppError(f"That is more than {MAX_INPUT_CHARS // 1024} KiB: paste public keys only.")
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(parse_key(line))
        except AppError as problem:
            raise AppError(f"Line {number}: {problem.message}", field="keys") from None
    if not keys:
        raise AppError("Paste a public key (the contents of ~/.ssh/id_ed25519.pub).", field="keys")
    return keys


def parse_key(line: str) -> PublicKey:
    """One ``type base64 [comment]`` line, checked by cryptography and our allow-list."""
    if len(line) > MAX_LINE_CHARS:
        raise AppError(f"a key line is at most {MAX_LINE_CHARS} characters; this is not a key.")
    if "PRIVATE KEY" in line:
        raise AppError("that is a private key: paste the .pub file instead, and keep it secret.")
    parts = line.split(None, 2)
    if len(parts) < 2:
        raise AppError("expected a key type, then the key (like 'ssh-ed25519 AAAA...').")
    key_type, encoded = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) == 3 else ""
    if key_type not in ALLOWED_TYPES:
        raise AppError(
            f"key type {key_type[:40]!r} is not accepted (use ed25519, ECDSA or RSA of at least "
            f"{RSA_MIN_BITS} bits); options before the key are not accepted either."
        )
    if not COMMENT_RE.match(comment):
        raise AppError("the comment after the key must be plain text of at most 200 characters.")
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise AppError("the key is not valid base64.") from None
    if _blob_type(blob) != key_type:
        raise AppError("the key's data does not match its type.")
    try:
        public = load_ssh_public_key(f"{key_type} {encoded}".encode())
    except (ValueError, UnsupportedAlgorithm):
        raise AppError("this is not a valid public key.") from None
    return PublicKey(
        key_type=key_type,
        key_data=encoded,
        fingerprint=fingerprint(blob),
        bits=_bits(public),
        comment=comment,
    )


def _blob_type(blob: bytes) -> str | None:
    """The type name the key blob starts with (an SSH string: 4-byte length, then bytes)."""
    if len(blob) < 4:
        return None
    length = int.from_bytes(blob[:4], "big")
    name = blob[4 : 4 + length]
    return name.decode("ascii", "replace") if len(name) == length else None


def _bits(public) -> int:
    if isinstance(public, ed25519.Ed25519PublicKey):
        return 256
    if isinstance(public, ec.EllipticCurvePublicKey):
        return public.curve.key_size
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size < RSA_MIN_BITS:
            raise AppError(
                f"RSA keys must have at least {RSA_MIN_BITS} bits (this one has "
                f"{public.key_size}): make an ed25519 key with ssh-keygen -t ed25519."
            )
        if public.key_size > RSA_MAX_BITS:
            raise AppError(f"RSA keys may have at most {RSA_MAX_BITS} bits.")
        return public.key_size
    raise AppError("this key type is not accepted.")


def fingerprint_of(key_type: str, encoded: str) -> str | None:
    """The fingerprint of a key sshd offers (type and base64); None if it is not one."""
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return fingerprint(blob) if _blob_type(blob) == key_type else None
