"""VIES for tests: the EU's VAT-number register, answering checkVat over SOAP from a set.

Numbers in ``registered`` are valid, any other is not; ``down`` makes every member state
unavailable (the SOAP fault VIES sends), and ``unreachable()`` closes the port altogether.
"""

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT = (
    '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><env:Fault>'
    "<faultcode>env:Server</faultcode><faultstring>{fault}</faultstring></env:Fault></env:Body>"
    "</env:Envelope>"
)
ANSWER = (
    '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>'
    '<ns2:checkVatResponse xmlns:ns2="urn:ec.europa.eu:taxud:vies:services:checkVat:types">'
    "<ns2:countryCode>{country}</ns2:countryCode><ns2:vatNumber>{number}</ns2:vatNumber>"
    "<ns2:requestDate>2026-01-01+01:00</ns2:requestDate><ns2:valid>{valid}</ns2:valid>"
    "<ns2:name>{name}</ns2:name><ns2:address>---</ns2:address></ns2:checkVatResponse>"
    "</env:Body></env:Envelope>"
)


class FakeVies:
    def __init__(self):
        self.registered: dict[str, str] = {}  # number -> company name
        self.down = False
        self.asked: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                reply, status = fake.answer(body)
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.end_headers()
                self.wfile.write(reply.encode())

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/checkVatService"

    def answer(self, body: str) -> tuple[str, int]:
        country = re.search(r"countryCode>(\w*)<", body).group(1)
        number = re.search(r"vatNumber>(\w*)<", body).group(1)
        self.asked.append(country + number)
        if self.down:
            return FAULT.format(fault="MS_UNAVAILABLE"), 500
        if not re.fullmatch(r"[A-Z]{2}", country):
            return FAULT.format(fault="INVALID_INPUT"), 500
        name = self.registered.get(country + number)
        valid = "true" if name is not None else "false"
        return ANSWER.format(country=country, number=number, valid=valid, name=name or "---"), 200

    def start(self) -> "FakeVies":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
