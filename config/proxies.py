"""Which address a request came from, when Warren runs behind a reverse proxy.

Behind nginx every visitor's connection comes from the proxy's address, so per-IP limits
(allauth's login_failed, WARREN_LOGIN_RATE_LIMIT) would count all visitors as one. The proxy
says who the visitor was in X-Forwarded-For, but anyone can send that header, including user
code on the same machine talking to the dashboard's port directly. So the header is believed
only when the connection itself comes from a proxy listed in WARREN_TRUSTED_PROXIES, and then
only as far back as the chain of trusted proxies goes.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(name: str, values: list[str]) -> list[Network]:
    """CIDRs (or single addresses) from a setting; a malformed one stops start-up."""
    try:
        return [ipaddress.ip_network(value, strict=False) for value in values]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must list IP networks (CIDRs): {exc}") from None


def client_ip(peer: str, forwarded_for: str, trusted: list[Network]) -> str:
    """The visitor's address: the right-most X-Forwarded-For entry not added by a trusted proxy.

    Entries further left were written by the client and are not believed."""
    if not _is_trusted(peer, trusted):
        return peer
    address = peer
    for entry in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        if not _is_ip(entry):
            break  # garbage from the client: the last good hop is the best we know
        address = entry
        if not _is_trusted(entry, trusted):
            break
    return address


class TrustedProxyMiddleware:
    """Puts the visitor's address (see client_ip) in REMOTE_ADDR, for everything after it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        trusted = settings.WARREN_TRUSTED_PROXIES
        peer = request.META.get("REMOTE_ADDR", "")
        forwarded = request.META.pop("HTTP_X_FORWARDED_FOR", "")
        if trusted and forwarded:
            request.META["REMOTE_ADDR"] = client_ip(peer, forwarded, trusted)
        return self.get_response(request)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, trusted: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
