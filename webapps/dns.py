"""TXT look-ups for domain ownership checks: a small stub resolver over UDP, TCP if truncated.

It asks the servers in WARREN_DNS_SERVERS (host or host:port), else those of /etc/resolv.conf,
and answers what a user needs to hear: the name does not exist, no answer in time, or the
TXT strings found. Nothing here trusts the answer beyond comparing it with a token.
"""

import ipaddress
import secrets
import socket
import struct
from pathlib import Path

from django.conf import settings

TXT = 16
IN = 1
NXDOMAIN = 3
RCODE_NAMES = {1: "FORMERR", 2: "SERVFAIL", 4: "NOTIMP", 5: "REFUSED"}


class DnsError(Exception):
    """A look-up that gave no usable answer; ``str()`` is fit to show the user."""


class NoSuchName(DnsError):
    pass


class DnsTimeout(DnsError):
    pass


def txt_records(name: str) -> list[str]:
    """The TXT strings at name (each record's strings joined), [] if it has none."""
    servers = configured_servers()
    timeout = settings.WARREN_DNS_TIMEOUT_SECONDS / len(servers)
    last_error: DnsError = DnsTimeout("no DNS server answered in time")
    for address in servers:
        try:
            return _ask(address, name, timeout)
        except TimeoutError:
            last_error = DnsTimeout("no DNS server answered in time")
        except OSError as exc:
            last_error = DnsError(f"the DNS server could not be reached ({exc.strerror or exc})")
        except NoSuchName:
            raise
        except DnsError as exc:
            last_error = exc
    raise last_error


def configured_servers() -> list[tuple[str, int]]:
    """(address, port) of each DNS server to ask, in order."""
    entries = list(settings.WARREN_DNS_SERVERS)
    if not entries:
        try:
            lines = Path("/etc/resolv.conf").read_text().splitlines()
        except OSError:
            lines = []
        entries = [line.split()[1] for line in lines if line.startswith("nameserver ")]
    return [_split_host_port(entry) for entry in entries] or [("127.0.0.1", 53)]


def _split_host_port(entry: str) -> tuple[str, int]:
    try:
        return str(ipaddress.ip_address(entry.strip("[]"))), 53
    except ValueError:
        host, _, port = entry.rpartition(":")
        return host.strip("[]"), int(port)


def _ask(address: tuple[str, int], name: str, timeout: float) -> list[str]:
    query_id = secrets.randbits(16)
    query = _query(query_id, name)
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as udp:
        udp.settimeout(timeout)
        udp.connect(address)
        udp.send(query)
        while True:
            answer = udp.recv(65535)
            # Anything else arriving on the port (a late or forged reply) is not our answer.
            if len(answer) >= 2 and struct.unpack("!H", answer[:2])[0] == query_id:
                break
    if struct.unpack("!H", answer[2:4])[0] & 0x0200:  # truncated: ask again over TCP
        with socket.create_connection(address, timeout=timeout) as tcp:
            tcp.sendall(struct.pack("!H", len(query)) + query)
            length = struct.unpack("!H", _read_exactly(tcp, 2))[0]
            answer = _read_exactly(tcp, length)
    return _parse(answer, query_id, name)


def _query(query_id: int, name: str) -> bytes:
    labels = b"".join(
        bytes([len(label)]) + label for label in name.strip(".").encode("ascii").split(b".")
    )
    return (
        struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack("!HH", TXT, IN)
    )


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise DnsError("the DNS server closed the connection mid-answer")
        data += chunk
    return data


def _parse(answer: bytes, query_id: int, name: str) -> list[str]:
    try:
        reply_id, flags, questions, answers, _, _ = struct.unpack("!HHHHHH", answer[:12])
        if reply_id != query_id or not flags & 0x8000:
            raise DnsError("the DNS server sent something that is not an answer")
        rcode = flags & 0x000F
        if rcode == NXDOMAIN:
            raise NoSuchName(f"{name} does not exist in the DNS")
        if rcode:
            code = RCODE_NAMES.get(rcode, str(rcode))
            raise DnsError(f"the DNS server answered {code}")
        offset = 12
        for _ in range(questions):
            offset = _skip_name(answer, offset) + 4
        found = []
        for _ in range(answers):
            offset = _skip_name(answer, offset)
            rtype, _, _, length = struct.unpack("!HHIH", answer[offset : offset + 10])
            offset += 10
            rdata = answer[offset : offset + length]
            offset += length
            if rtype == TXT:
                found.append(_txt_strings(rdata))
        return found
    except (struct.error, IndexError):
        raise DnsError("the DNS server's answer was malformed") from None


def _skip_name(data: bytes, offset: int) -> int:
    while True:
        length = data[offset]
        if length >= 0xC0:  # a compression pointer ends the name
            return offset + 2
        if length == 0:
            return offset + 1
        offset += 1 + length


def _txt_strings(rdata: bytes) -> str:
    parts, offset = [], 0
    while offset < len(rdata):
        length = rdata[offset]
        parts.append(rdata[offset + 1 : offset + 1 + length])
        offset += 1 + length
    return b"".join(parts).decode("utf-8", "replace")
