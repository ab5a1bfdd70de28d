"""Real certificates for tests: a private CA, leaves signed by it, and an HTTPS client.

Made with `cryptography` on the spot (nothing is checked in): each test gets the names, dates
and key types it needs, and a TLS client that trusts only that CA checks what nginx serves.
"""

from __future__ import annotations

import datetime
import http.client
import socket
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def new_key(kind: str = "ec"):
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Issued:
    cert: x509.Certificate
    key: object

    @property
    def cert_pem(self) -> str:
        return cert_pem(self.cert)

    @property
    def key_pem(self) -> str:
        return key_pem(self.key)


class TestCA:
    """A root and an intermediate; leaves are signed by the intermediate (as real CAs do)."""

    __test__ = False

    def __init__(self, name: str = "Warren Test CA") -> None:
        self.root = self._ca(name, None)
        self.intermediate = self._ca(f"{name} Intermediate", self.root)

    def _ca(self, name: str, parent: Issued | None) -> Issued:
        key = new_key("ec")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        issuer = parent.cert.subject if parent else subject
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(days=1))
            .not_valid_after(_now() + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        )
        cert = builder.sign(parent.key if parent else key, hashes.SHA256())
        return Issued(cert, key)

    @property
    def root_pem(self) -> str:
        return cert_pem(self.root.cert)

    def leaf(
        self,
        *names: str,
        key_kind: str = "ec",
        days: int = 90,
        not_before_days: int = -1,
        key=None,
    ) -> Issued:
        key = key or new_key(key_kind)
        start = _now() + datetime.timedelta(days=not_before_days)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.intermediate.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.intermediate.key, hashes.SHA256())
        )
        return Issued(cert, key)

    def chain_pem(self, leaf: Issued) -> str:
        """The leaf, then the intermediate: what a server sends."""
        return leaf.cert_pem + cert_pem(self.intermediate.cert)


def self_signed(name: str, key_kind: str = "ec") -> Issued:
    key = new_key(key_kind)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(days=1))
        .not_valid_after(_now() + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


@dataclass
class HttpsAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    certificate: x509.Certificate
    protocol: str  # TLSv1.2 / TLSv1.3
    alpn: str | None


def https_get(
    port: int,
    host: str,
    path: str = "/",
    *,
    cafile: str | None = None,
    cadata: str | None = None,
    address: str = "127.0.0.1",
    alpn: tuple[str, ...] = ("http/1.1",),
) -> HttpsAnswer:
    """GET https://host:port/path through address, SNI host, verifying against the given CA."""
    context = ssl.create_default_context(cafile=cafile, cadata=cadata)
    context.set_alpn_protocols(list(alpn))
    raw = socket.create_connection((address, port), timeout=15)
    tls = context.wrap_socket(raw, server_hostname=host)
    try:
        certificate = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        protocol, chosen = tls.version(), tls.selected_alpn_protocol()
        if chosen == "h2":
            return HttpsAnswer(0, {}, b"", certificate, protocol, chosen)
        connection = http.client.HTTPConnection(host, port, timeout=15)
        connection.sock = tls
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        body = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        return HttpsAnswer(response.status, headers, body, certificate, protocol, chosen)
    finally:
        tls.close()


def names_of(certificate: x509.Certificate) -> list[str]:
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return san.value.get_values_for_type(x509.DNSName)
