"""Checking a certificate chain and key (uploaded, or from ACME) with `cryptography`.

The one parser of certificates in Warren: it answers with a clear sentence for each way an
upload goes wrong (not PEM, a key that does not match, a chain out of order, a name that does
not cover the domain, dates), and with the chain and key re-serialised as plain PEM, which is
all the execution agent accepts.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from config.errors import AppError

MAX_PEM_BYTES = 64 * 1024  # the execution agent's limit too (execution_agent/web/spec.py)
MAX_CHAIN_LENGTH = 5
MIN_RSA_BITS = 2048
EC_CURVES = (ec.SECP256R1, ec.SECP384R1)


@dataclass(frozen=True)
class CheckedCertificate:
    chain_pem: str  # leaf first, then the intermediates, as nginx sends them
    key_pem: str
    issuer: str
    names: list[str]
    not_before: datetime.datetime
    not_after: datetime.datetime


def _text(data: bytes | str, what: str, field: str) -> bytes:
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if not raw.strip():
        raise AppError(f"The {what} is empty.", field=field)
    if len(raw) > MAX_PEM_BYTES:
        raise AppError(
            f"The {what} is {len(raw) // 1024} KiB: more than the {MAX_PEM_BYTES // 1024} KiB "
            "a PEM file of it could need. Upload the PEM text only.",
            field=field,
        )
    try:
        raw.decode("ascii")
    except UnicodeDecodeError:
        raise AppError(
            f"The {what} is not PEM text (it holds binary data). Upload the file that starts "
            "with -----BEGIN; a .der or .pfx file must be converted to PEM first.",
            field=field,
        ) from None
    return raw


def _load_chain(data: bytes | str) -> list[x509.Certificate]:
    raw = _text(data, "certificate", "certificate")
    try:
        chain = x509.load_pem_x509_certificates(raw)
    except ValueError:
        raise AppError(
            "No certificate could be read: expected one or more "
            "-----BEGIN CERTIFICATE----- blocks.",
            field="certificate",
        ) from None
    if len(chain) > MAX_CHAIN_LENGTH:
        raise AppError(
            f"The chain has {len(chain)} certificates; at most {MAX_CHAIN_LENGTH} are sent.",
            field="certificate",
        )
    return chain


def _load_key(data: bytes | str):
    raw = _text(data, "private key", "key")
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except TypeError:
        raise AppError(
            "The private key is protected by a passphrase: upload it without one "
            "(openssl pkey -in key.pem -out plain.pem).",
            field="key",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise AppError(
            "No private key could be read: expected a -----BEGIN PRIVATE KEY----- block "
            "(or RSA/EC PRIVATE KEY).",
            field="key",
        ) from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise AppError(
                f"The RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed.",
                field="key",
            )
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, EC_CURVES):
            raise AppError(
                f"The EC key is on {key.curve.name}; browsers accept P-256 and P-384.",
                field="key",
            )
    else:
        raise AppError("Only RSA and EC (P-256, P-384) keys are accepted.", field="key")
    return key


def _spki(public_key) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _subject(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def _issuer(certificate: x509.Certificate) -> str:
    issuer = certificate.issuer
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = issuer.get_attributes_for_oid(oid)
        if values:
            common = issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
            if oid == NameOID.ORGANIZATION_NAME and common:
                return f"{values[0].value} ({common[0].value})"
            return str(values[0].value)
    return issuer.rfc4514_string()


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def dns_names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [name.lower() for name in san.value.get_values_for_type(x509.DNSName)]


def name_covers(name: str, domain: str) -> bool:
    """RFC 6125: an exact name, or `*.` standing for exactly one whole leftmost label."""
    name, domain = name.lower().rstrip("."), domain.lower().rstrip(".")
    if not name.startswith("*."):
        return name == domain
    first, _, rest = domain.partition(".")
    # `*.com` would cover every .com name: a wildcard needs two labels after it.
    return bool(first) and rest == name[2:] and rest.count(".") >= 1


def _check_order(chain: list[x509.Certificate]) -> None:
    for index in range(len(chain) - 1):
        child, parent = chain[index], chain[index + 1]
        if not _issued_by(child, parent):
            raise AppError(
                f"The chain is out of order: certificate {index + 2} ({_subject(parent)}) did "
                f"not issue certificate {index + 1} ({_subject(child)}). Put your certificate "
                "first, then each intermediate after the one it was issued by.",
                field="certificate",
            )


def certificate_check(
    *,
    certificate: bytes | str,
    key: bytes | str,
    domain: str,
    now: datetime.datetime | None = None,
) -> CheckedCertificate:
    """The chain and key, checked for the domain; AppError with the reason otherwise."""
    now = now or datetime.datetime.now(datetime.UTC)
    chain = _load_chain(certificate)
    private_key = _load_key(key)
    leaf = chain[0]
    wanted = _spki(private_key.public_key())
    if _spki(leaf.public_key()) != wanted:
        if any(_spki(other.public_key()) == wanted for other in chain[1:]):
            raise AppError(
                "Your certificate must come first in the chain, before the intermediates.",
                field="certificate",
            )
        raise AppError(
            f"The private key does not match the certificate ({_subject(leaf)}): it belongs "
            "to another certificate.",
            field="key",
        )
    _check_order(chain)
    if leaf.issuer == leaf.subject and _issued_by(leaf, leaf):
        raise AppError(
            "The certificate is self-signed: browsers would warn every visitor. Use one "
            "issued by a certificate authority, or get one automatically below.",
            field="certificate",
        )
    names = dns_names(leaf)
    if not any(name_covers(name, domain) for name in names):
        shown = ", ".join(names[:5]) or "no DNS names"
        raise AppError(
            f"The certificate is for {shown}, not {domain}.",
            field="certificate",
        )
    if leaf.not_valid_after_utc <= now:
        raise AppError(
            f"The certificate expired on {leaf.not_valid_after_utc:%Y-%m-%d}.",
            field="certificate",
        )
    if leaf.not_valid_before_utc > now:
        raise AppError(
            f"The certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.",
            field="certificate",
        )
    return CheckedCertificate(
        chain_pem="".join(part.public_bytes(serialization.Encoding.PEM).decode() for part in chain),
        key_pem=private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        issuer=_issuer(leaf),
        names=names,
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )
