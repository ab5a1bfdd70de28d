"""Keep users' sandboxes off Warren's own services: an nftables table that rejects connections
from users' uids to the broker, the database and the fileserver agent.

The sandbox shares the machine's network (users fetch packages and call APIs), so without
this a user's code could talk to a Redis or PostgreSQL that trusts local connections, read the
channel layer or queue tasks. Rules match the socket's owner (``meta skuid``), which is the
user's real uid inside bubblewrap too; Warren's own processes run below the uid base and are
not touched. What to block comes from ``WARREN_SANDBOX_BLOCK``: a comma list of
``ADDRESS[/PREFIX][:PORT]`` (IPv6 in brackets), ``*`` for any address, ``local`` for every
address of this machine (loopback, LAN, public: nftables' ``fib daddr type local``).
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass

from execution_agent.validation import MAX_UID

# Warren's infrastructure on the machine itself, on any of its addresses (a Redis bound to
# 0.0.0.0 is reached through the LAN address as well): Redis, PostgreSQL, the fileserver agent.
DEFAULT_BLOCK = "local:6379,local:5432,local:8701"
DEFAULT_TABLE = "warren_sandbox"
TABLE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_ENTRY_RE = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<plain>[^:\[\]]+))(?::(?P<port>\d+))?$")
ANY = ("0.0.0.0/0", "::/0")


class FirewallError(Exception):
    """The rules could not be parsed or installed; the message says why."""


@dataclass(frozen=True)
class Blocked:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None  # None: this machine's own
    port: int | None  # None: every port of that network


def parse_block(raw: str) -> tuple[Blocked, ...]:
    """``WARREN_SANDBOX_BLOCK`` as networks and ports; raises FirewallError naming the entry."""
    blocked = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        match = _ENTRY_RE.match(entry)
        if match is None:
            raise FirewallError(f"WARREN_SANDBOX_BLOCK: cannot read {entry!r}")
        address = match["v6"] or match["plain"]
        port = int(match["port"]) if match["port"] else None
        if port is not None and not 1 <= port <= 65535:
            raise FirewallError(f"WARREN_SANDBOX_BLOCK: port out of range in {entry!r}")
        if address == "local":
            blocked.append(Blocked(None, port))
            continue
        try:
            networks = (
                [ipaddress.ip_network(n) for n in ANY]
                if address == "*"
                else [ipaddress.ip_network(address, strict=False)]
            )
        except ValueError:
            raise FirewallError(f"WARREN_SANDBOX_BLOCK: not an address in {entry!r}") from None
        blocked += [Blocked(network, port) for network in networks]
    return tuple(blocked)


def ruleset(*, table: str, uid_base: int, blocked: tuple[Blocked, ...]) -> str:
    """The nft script that (re)creates the table atomically with these rules."""
    if not TABLE_RE.match(table):
        raise FirewallError(f"not a table name: {table!r}")
    rules = []
    for item in blocked:
        if item.network is None:
            destination = "fib daddr type local"
        else:
            family = "ip" if item.network.version == 4 else "ip6"
            destination = f"{family} daddr {item.network}"
        port = f" tcp dport {item.port}" if item.port is not None else ""
        # A TCP reset, so a client fails at once instead of hanging until its timeout.
        reject = "reject with tcp reset" if port else "reject"
        rules.append(f"    meta skuid {uid_base}-{MAX_UID} {destination}{port} {reject}")
    # Declaring the table before deleting it makes the delete safe on a first run; nft applies
    # the whole script as one transaction, so there is no moment without the rules.
    return "\n".join(
        [
            f"table inet {table}",
            f"delete table inet {table}",
            f"table inet {table} {{",
            "  chain output {",
            "    type filter hook output priority 0; policy accept;",
            *rules,
            "  }",
            "}",
            "",
        ]
    )


def install(*, table: str, uid_base: int, blocked: tuple[Blocked, ...]) -> None:
    """Install (or replace) the table; raises FirewallError if nft is missing or refuses."""
    _nft(ruleset(table=table, uid_base=uid_base, blocked=blocked))


def remove(table: str) -> None:
    """Drop the table (a test harness's clean-up); missing is fine."""
    if not TABLE_RE.match(table):
        raise FirewallError(f"not a table name: {table!r}")
    _nft(f"table inet {table}\ndelete table inet {table}\n")


def _nft(script: str) -> None:
    nft = shutil.which("nft", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if nft is None:
        raise FirewallError("nft is missing (apt-get install nftables)")
    result = subprocess.run(
        [nft, "-f", "-"], input=script, capture_output=True, text=True, timeout=20, check=False
    )
    if result.returncode != 0:
        raise FirewallError(f"nft refused the rules: {result.stderr.strip()[:500]}")
