"""Debian's `pebble` (Let's Encrypt's RFC 8555 test server) for tests and benchmarks.

Started on free ports with its own configuration: its HTTPS listener uses a certificate from a
private TestCA (the ACME client is pointed at that CA's root), its HTTP-01 validations go to
our nginx's HTTP port (`httpPort`), and it resolves names through the given DNS server (the
fake in tests/fakes/dns.py), so no real DNS is involved.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from execution_agent.testing.harness import free_port
from tests.certs import TestCA

PEBBLE = "/usr/bin/pebble"


class Pebble:
    def __init__(self, *, http_port: int, dns_server: str) -> None:
        self.http_port = http_port
        self.dns_server = dns_server
        self.port = free_port()
        self.management_port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="warren-pebble-"))
        self.ca = TestCA("Pebble listener CA")
        self.ca_bundle = self.directory / "listener-ca.pem"
        self.process: subprocess.Popen | None = None

    @property
    def directory_url(self) -> str:
        return f"https://localhost:{self.port}/dir"

    def start(self, timeout: float = 20.0) -> Pebble:
        leaf = self.ca.leaf("localhost")
        (self.directory / "cert.pem").write_text(self.ca.chain_pem(leaf))
        (self.directory / "key.pem").write_text(leaf.key_pem)
        self.ca_bundle.write_text(self.ca.root_pem)
        config = {
            "pebble": {
                "listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{self.management_port}",
                "certificate": str(self.directory / "cert.pem"),
                "privateKey": str(self.directory / "key.pem"),
                "httpPort": self.http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }
        }
        (self.directory / "config.json").write_text(json.dumps(config))
        env = {
            "PATH": "/usr/bin:/bin",
            "PEBBLE_VA_NOSLEEP": "1",  # validate at once, not after a random pause
            "PEBBLE_WFE_NONCEREJECT": "0",  # no random badNonce errors
            "PEBBLE_AUTHZREUSE": "0",  # every order proves the domain again
        }
        log = open(self.directory / "pebble.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [PEBBLE, "-config", str(self.directory / "config.json"), "-dnsserver", self.dns_server],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pebble exited:\n{self.log()}")
            try:
                self._get(self.directory_url)
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"pebble did not start:\n{self.log()}")

    def _get(self, url: str) -> bytes:
        context = ssl.create_default_context(cafile=str(self.ca_bundle))
        with urllib.request.urlopen(url, context=context, timeout=5) as response:  # noqa: S310
            return response.read()

    def root_pem(self) -> str:
        """The root pebble signs with (new at every start): what a client must trust."""
        return self._get(f"https://localhost:{self.management_port}/roots/0").decode()

    def certificate_status(self, serial: int) -> dict:
        """Pebble's record of a certificate it issued: {"Status": "Valid"|"Revoked", ...}."""
        url = f"https://localhost:{self.management_port}/cert-status-by-serial/{serial:x}"
        return json.loads(self._get(url))

    def log(self) -> str:
        path = self.directory / "pebble.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)
