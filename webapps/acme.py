"""The ACME adapter: certificates from Let's Encrypt (or any RFC 8555 server) with certbot's `acme`.

One account per Warren installation, its key a private file (WARREN_ACME_ACCOUNT_KEY, made on
first use, like the other local secrets). HTTP-01 only: the caller publishes each challenge's
answer (through the web server's execution agent) and takes it down afterwards. Every failure
comes out as AcmeFailure with a reason worded for the site's owner.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import josepy as jose
import requests
from acme import challenges, client, crypto_util, errors, messages
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

USER_AGENT = "warren-acme"
NETWORK_TIMEOUT = 30
ORDER_TIMEOUT = 90


class AcmeFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Issued:
    chain_pem: str
    key_pem: str


def _private_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The file's bytes; made 0600 first if missing (linked into place: two workers agree)."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(make())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_bytes()


def _new_account_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def account_key() -> jose.JWKRSA:
    pem = _private_file(Path(settings.WARREN_ACME_ACCOUNT_KEY), _new_account_key)
    return jose.JWKRSA(key=serialization.load_pem_private_key(pem, password=None))


def _client() -> client.ClientV2:
    """A client logged in to the installation's account (registered on first use)."""
    verify = settings.WARREN_ACME_CA_BUNDLE or True
    net = client.ClientNetwork(
        account_key(), user_agent=USER_AGENT, verify_ssl=verify, timeout=NETWORK_TIMEOUT
    )
    directory = client.ClientV2.get_directory(settings.WARREN_ACME_DIRECTORY_URL, net)
    acme = client.ClientV2(directory, net=net)
    contact = (f"mailto:{settings.WARREN_ACME_EMAIL}",) if settings.WARREN_ACME_EMAIL else ()
    registration = messages.NewRegistration(contact=contact, terms_of_service_agreed=True)
    try:
        acme.new_account(registration)
    except errors.ConflictError as exc:
        # The key already has an account: sign with its URL from now on.
        net.account = messages.RegistrationResource(uri=exc.location, body=messages.Registration())
    return acme


def _reason(exc: Exception) -> str:
    if isinstance(exc, errors.ValidationError):
        for authorization in exc.failed_authzrs:
            for challenge in authorization.body.challenges:
                if challenge.error is not None:
                    return _problem(challenge.error)
        return "the domain could not be validated"
    if isinstance(exc, messages.Error):
        return _problem(exc)
    if isinstance(exc, errors.TimeoutError):
        return "the certificate authority did not finish in time"
    if isinstance(exc, requests.RequestException):
        return "the certificate authority could not be reached"
    return f"the certificate authority refused: {exc}"


def _problem(error: messages.Error) -> str:
    detail = (error.detail or error.description or str(error.typ) or "").strip()
    if error.code in ("connection", "dns", "unknownHost"):
        return f"the domain does not point at us ({detail})"
    if error.code == "unauthorized":
        return f"the challenge answer was not found on the domain ({detail})"
    if error.code == "rateLimited":
        return f"too many certificates asked for ({detail})"
    return detail or "the certificate authority refused"


def issue(
    *,
    domain: str,
    publish: Callable[[str, str], None],
    withdraw: Callable[[str], None],
) -> Issued:
    """A new key and a certificate for domain, proved over HTTP-01 through publish(token,
    answer); withdraw(token) runs afterwards whatever happened."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    published: list[str] = []
    try:
        acme = _client()
        order = acme.new_order(crypto_util.make_csr(key_pem, [domain]))
        for authorization in order.authorizations:
            if authorization.body.status == messages.STATUS_VALID:
                continue
            challenge = next(
                (
                    c
                    for c in authorization.body.challenges
                    if isinstance(c.chall, challenges.HTTP01)
                ),
                None,
            )
            if challenge is None:
                raise AcmeFailure("the certificate authority offered no HTTP-01 challenge")
            response, answer = challenge.response_and_validation(acme.net.key)
            token = challenge.chall.encode("token")
            publish(token, answer)
            published.append(token)
            acme.answer_challenge(challenge, response)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=ORDER_TIMEOUT)
        order = acme.poll_and_finalize(order, deadline)
    except AcmeFailure:
        raise
    except (errors.Error, messages.Error, requests.RequestException) as exc:
        raise AcmeFailure(_reason(exc)) from exc
    finally:
        for token in published:
            with contextlib.suppress(Exception):
                withdraw(token)
    return Issued(chain_pem=order.fullchain_pem, key_pem=key_pem.decode())


def revoke(*, chain_pem: str) -> None:
    """Tell the certificate authority a certificate is no longer used (superseded)."""
    certificate = x509.load_pem_x509_certificates(chain_pem.encode())[0]
    try:
        _client().revoke(certificate, 4)  # RFC 5280 reason 4: superseded
    except (errors.Error, messages.Error, requests.RequestException) as exc:
        raise AcmeFailure(_reason(exc)) from exc
