"""Keep users' sandboxes off the machine's own services: an nftables table that rejects
connections from users' uids to every address of this machine, the cloud metadata address,
and Warren's dashboard and fileserver ports wherever they are.

The sandbox shares the machine's network (users fetch packages and call APIs), so without
this a user's code could talk to a Redis, PostgreSQL, MariaDB or broker that trusts local
connections, read the channel layer or queue tasks. Rules match the socket's owner
(``meta skuid``), which is the user's real uid inside bubblewrap too; Warren's own processes
run below the uid base and are not touched. ``WARREN_SANDBOX_BLOCK`` says what to reject and
``WARREN_SANDBOX_ALLOW`` what users may reach despite it (accepts come first): both comma lists
of ``ADDRESS[/PREFIX][:PORT]`` (IPv6 in brackets), ``*`` for any address, ``local`` for every
address of this machine (loopback, LAN, public: nftables' ``fib daddr type local``). A port in
a block entry is TCP's; a port in an allow entry opens TCP and UDP (DNS).
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass

from execution_agent.validation import MAX_UID

# Everything on the machine itself, on any of its addresses (a Redis bound to 0.0.0.0 is
# reached through the LAN address as well); cloud metadata (credentials of the machine's
# role); the dashboard's and the fileserver agent's ports on remote file servers too.
DEFAULT_BLOCK = "local,169.254.169.254,[fd00:ec2::254],*:8000,*:8701"
DEFAULT_TABLE = "warren_sandbox"
# The users' database servers when they run on this machine: MariaDB on its usual port (Warren
# keeps nothing of its own in MariaDB), and a PostgreSQL cluster for users on 5433 (Debian's
# pg_createcluster gives a second cluster that port). Warren's own PostgreSQL (5432) and Redis
# stay blocked: a users' PostgreSQL must be a separate cluster or machine (README).
USERS_DATABASE_PORTS = (3306, 5433)
TABLE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_ENTRY_RE = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<plain>[^:\[\]]+))(?::(?P<port>\d+))?$")
ANY = ("0.0.0.0/0", "::/0")


class FirewallError(Exception):
    """The rules could not be parsed or installed; the message says why."""


@dataclass(frozen=True)
class Blocked:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None  # None: this machine's own
    port: int | None  # None: every port of that network


def parse_block(raw: str, name: str = "WARREN_SANDBOX_BLOCK") -> tuple[Blocked, ...]:
    """A block (or allow) list as networks and ports; raises FirewallError naming the entry."""
    blocked = []
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        match = _ENTRY_RE.match(entry)
        if match is None:
            raise FirewallError(f"{name}: cannot read {entry!r}")
        address = match["v6"] or match["plain"]
        port = int(match["port"]) if match["port"] else None
        if port is not None and not 1 <= port <= 65535:
            raise FirewallError(f"{name}: port out of range in {entry!r}")
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
            raise FirewallError(f"{name}: not an address in {entry!r}") from None
        blocked += [Blocked(network, port) for network in networks]
    return tuple(blocked)


def parse_allow(raw: str) -> tuple[Blocked, ...]:
    """``WARREN_SANDBOX_ALLOW``, in the block list's syntax."""
    return parse_block(raw, "WARREN_SANDBOX_ALLOW")


def default_allow(
    webapps_port: int,
    resolv_conf: str = "/etc/resolv.conf",
    database_ports: tuple[int, ...] = USERS_DATABASE_PORTS,
    https_port: int | None = None,
) -> str:
    """What users reach by default: the web apps' nginx on this machine (to curl their own
    site), the users' database servers' ports on this machine, and port 53 of a resolver on
    this machine if resolv.conf names one."""
    entries = [f"local:{webapps_port}", *(f"local:{port}" for port in database_ports)]
    if https_port is not None:
        entries.insert(1, f"local:{https_port}")
    for address in local_nameservers(resolv_conf):
        entries.append(f"[{address}]:53" if ":" in address else f"{address}:53")
    return ",".join(entries)


def local_nameservers(resolv_conf: str = "/etc/resolv.conf") -> list[str]:
    """The ``nameserver`` addresses in resolv.conf that belong to this machine."""
    try:
        with open(resolv_conf) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) < 2 or parts[0] != "nameserver":
            continue
        try:
            address = ipaddress.ip_address(parts[1].split("%")[0])
        except ValueError:
            continue
        if address.is_loopback or _is_own_address(address):
            found.append(str(address))
    return found


def _is_own_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    # Binding succeeds only on an address the machine has: no interface list to parse.
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:
            return False
    return True


def _destination(item: Blocked) -> str:
    if item.network is None:
        return "fib daddr type local"
    family = "ip" if item.network.version == 4 else "ip6"
    return f"{family} daddr {item.network}"


def ruleset(
    *,
    table: str,
    uid_base: int,
    blocked: tuple[Blocked, ...],
    allowed: tuple[Blocked, ...] = (),
    uid_last: int = MAX_UID,
) -> str:
    """The nft script that (re)creates the table atomically with these rules."""
    if not TABLE_RE.match(table):
        raise FirewallError(f"not a table name: {table!r}")
    users = f"meta skuid {uid_base}-{uid_last}"
    rules = []
    # First match wins: what users may reach is accepted before anything is rejected.
    for item in allowed:
        port = f" meta l4proto {{ tcp, udp }} th dport {item.port}" if item.port else ""
        rules.append(f"    {users} {_destination(item)}{port} accept")
    for item in blocked:
        if item.port is not None:
            # A TCP reset, so a client fails at once instead of hanging until its timeout.
            port = f" tcp dport {item.port}"
            rules.append(f"    {users} {_destination(item)}{port} reject with tcp reset")
        else:
            rules.append(f"    {users} {_destination(item)} meta l4proto tcp reject with tcp reset")
            rules.append(f"    {users} {_destination(item)} reject")
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


def install(
    *,
    table: str,
    uid_base: int,
    blocked: tuple[Blocked, ...],
    allowed: tuple[Blocked, ...] = (),
    uid_last: int = MAX_UID,
) -> None:
    """Install (or replace) the table; raises FirewallError if nft is missing or refuses."""
    _nft(
        ruleset(table=table, uid_base=uid_base, blocked=blocked, allowed=allowed, uid_last=uid_last)
    )


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
