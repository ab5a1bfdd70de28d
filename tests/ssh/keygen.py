"""Public keys in OpenSSH's one-line format, made with cryptography (no ssh-keygen run)."""

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def openssh_line(private_key, comment: str = "") -> str:
    line = private_key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    return f"{line} {comment}".strip()


def ed25519_line(comment: str = "alice@laptop") -> str:
    return openssh_line(ed25519.Ed25519PrivateKey.generate(), comment)


def ecdsa_line(curve=ec.SECP256R1) -> str:
    return openssh_line(ec.generate_private_key(curve()))


def rsa_line(bits: int) -> str:
    return openssh_line(rsa.generate_private_key(public_exponent=65537, key_size=bits))
