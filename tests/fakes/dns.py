"""A DNS server for tests: the outside world's DNS, answering TXT queries from a dict.

It listens on UDP and TCP on 127.0.0.1 (one free port), so webapps.dns is tested as it runs:
names in ``records`` answer their TXT strings, names in ``addresses`` their IPv4 address (A;
an empty answer for other types: pebble's ACME server resolves test domains here), names in
``silent`` never answer (a timeout), anything else is NXDOMAIN. A UDP answer past 512 bytes
is sent truncated, as real servers do, so the resolver must retry over TCP.
"""

import socket
import socketserver
import struct
import threading


class FakeDns:
    def __init__(self):
        self.records: dict[str, list[str]] = {}
        self.addresses: dict[str, str] = {}
        self.silent: set[str] = set()
        self.queries: list[str] = []
        self._udp, self._tcp = self._bind_both()
        self.address = f"127.0.0.1:{self._udp.server_address[1]}"

    def _bind_both(self):
        # A free UDP port may be busy on TCP (another test's server holds it): try the next.
        for _ in range(50):
            udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), self._udp_handler())
            try:
                tcp = socketserver.ThreadingTCPServer(
                    ("127.0.0.1", udp.server_address[1]), self._tcp_handler()
                )
            except OSError:
                udp.server_close()
                continue
            return udp, tcp
        raise OSError("no port free on both UDP and TCP")

    def start(self) -> "FakeDns":
        for server in (self._udp, self._tcp):
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()

    def answer(self, query: bytes, *, max_size: int | None) -> bytes | None:
        query_id, _, _, _, _, _ = struct.unpack("!HHHHHH", query[:12])
        labels, offset = [], 12
        while query[offset]:
            labels.append(query[offset + 1 : offset + 1 + query[offset]].decode())
            offset += 1 + query[offset]
        question = query[12 : offset + 5]
        (qtype,) = struct.unpack("!H", query[offset + 1 : offset + 3])
        name = ".".join(labels).lower()
        self.queries.append(name)
        if name in self.silent:
            return None
        if name in self.addresses:
            if qtype != 1:  # A only: no AAAA, CAA, ... (NOERROR, no answer)
                return struct.pack("!HHHHHH", query_id, 0x8180, 1, 0, 0, 0) + question
            rdata = socket.inet_aton(self.addresses[name])
            answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, len(rdata)) + rdata
            return struct.pack("!HHHHHH", query_id, 0x8180, 1, 1, 0, 0) + question + answer
        if name not in self.records:
            return struct.pack("!HHHHHH", query_id, 0x8183, 1, 0, 0, 0) + question
        answers = b""
        for text in self.records[name]:
            data = text.encode()
            rdata = b"".join(
                bytes([len(data[i : i + 255])]) + data[i : i + 255]
                for i in range(0, max(len(data), 1), 255)
            )
            # 0xC00C: the name, compressed as a pointer to the question's.
            answers += struct.pack("!HHHIH", 0xC00C, 16, 1, 60, len(rdata)) + rdata
        count = len(self.records[name])
        reply = struct.pack("!HHHHHH", query_id, 0x8180, 1, count, 0, 0) + question + answers
        if max_size is not None and len(reply) > max_size:
            return struct.pack("!HHHHHH", query_id, 0x8380, 1, 0, 0, 0) + question
        return reply

    def _udp_handler(self):
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                reply = fake.answer(data, max_size=512)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        return Handler

    def _tcp_handler(self):
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                sock: socket.socket = self.request
                length = struct.unpack("!H", sock.recv(2))[0]
                reply = fake.answer(sock.recv(length), max_size=None)
                if reply is not None:
                    sock.sendall(struct.pack("!H", len(reply)) + reply)

        return Handler


_server: FakeDns | None = None


def shared_fake_dns() -> FakeDns:
    """The test process's one fake DNS server (started on first use, gone with the process)."""
    global _server
    if _server is None:
        _server = FakeDns().start()  # daemon threads
    return _server


def use_fake_dns(settings) -> FakeDns:
    """Point webapps.dns at the fake (pytest-django's settings undo it) and empty it."""
    server = shared_fake_dns()
    server.records.clear()
    server.addresses.clear()
    server.silent.clear()
    server.queries.clear()
    settings.WARREN_DNS_SERVERS = [server.address]
    settings.WARREN_DNS_TIMEOUT_SECONDS = 1
    return server
