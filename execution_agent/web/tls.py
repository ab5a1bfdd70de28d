"""Sites' certificates and ACME challenge files: root's files that nginx reads, no sandbox sees.

Certificates are stored by content (<sha256>.crt/.key under certs/<slug>/): a new one is
written beside the one nginx is serving, the site block is switched to it through `nginx -t`,
and whatever the block no longer names is removed afterwards. So a certificate nginx refuses
leaves the previous block, and the previous files, exactly as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path

from execution_agent.errors import bad_request
from execution_agent.web.layout import WebLayout, _owned_dir, write_atomically
from execution_agent.web.render import SiteTls
from execution_agent.web.spec import AppSpec

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")  # RFC 8555 §8.1: base64url
KEY_AUTHORIZATION_RE = re.compile(r"^[A-Za-z0-9_-]{16,128}\.[A-Za-z0-9_-]{43}$")


class SiteCertificates:
    def __init__(self, layout: WebLayout, config) -> None:
        self.layout = layout
        self.config = config

    def wildcard_configured(self) -> bool:
        return bool(self.config.wildcard_certificate and self.config.wildcard_key)

    def install(self, spec: AppSpec) -> SiteTls | None:
        """Write the spec's certificate and key (if new); what the site block should name."""
        tls = spec.tls
        if tls is None:
            return None
        if tls.wildcard:
            if not self.wildcard_configured():
                return None  # the operator has not set one up: the site stays HTTP only
            return SiteTls(
                certificate=str(self.config.wildcard_certificate),
                key=str(self.config.wildcard_key),
                hsts_max_age=tls.hsts_max_age,
            )
        digest = hashlib.sha256(f"{tls.certificate}\n{tls.key}".encode()).hexdigest()[:32]
        directory = _owned_dir(self.layout.certs / spec.slug, 0o700)
        certificate, key = directory / f"{digest}.crt", directory / f"{digest}.key"
        write_atomically(key, tls.key.encode(), mode=0o600)
        write_atomically(certificate, tls.certificate.encode(), mode=0o600)
        return SiteTls(certificate=str(certificate), key=str(key), hsts_max_age=tls.hsts_max_age)

    def prune(self, slug: str) -> None:
        """Remove the slug's certificate files its current block (if any) does not name."""
        try:
            text = self.layout.site(slug).read_text()
        except FileNotFoundError:
            text = ""
        directory = self.layout.certs / slug
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(directory):
                if entry.path not in text:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
        if not text:
            shutil.rmtree(directory, ignore_errors=True)

    # --- ACME HTTP-01 ---------------------------------------------------------------------
    def challenge_dir(self, slug: str) -> Path:
        return self.layout.acme_challenges / slug

    def challenge_set(self, slug: str, token: str, key_authorization: str) -> None:
        """Serve key_authorization at /.well-known/acme-challenge/<token> for the domain."""
        self._check_token(token)
        if not KEY_AUTHORIZATION_RE.match(key_authorization) or not key_authorization.startswith(
            token + "."
        ):
            raise bad_request("args.key_authorization: must be <token>.<thumbprint>")
        directory = _owned_dir(self.challenge_dir(slug), 0o755)
        write_atomically(directory / token, key_authorization.encode(), mode=0o644)

    def challenge_clear(self, slug: str, token: str) -> bool:
        self._check_token(token)
        try:
            (self.challenge_dir(slug) / token).unlink()
        except FileNotFoundError:
            return False
        return True

    @staticmethod
    def _check_token(token: str) -> None:
        if not TOKEN_RE.match(token):
            raise bad_request("args.token: must be an ACME token (base64url)")
