"""Business customers' VAT numbers: one parser (format and check digits, python-stdnum), and
VIES, the EU's register, behind a small interface so tests can talk to a local fake.

VIES answers SOAP over HTTP. It is often down for one member state or all of them; callers
treat "no answer" as "not confirmed" and charge VAT until a later check confirms (fail closed).
"""

import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import clean

# VIES and VAT numbers say EL for Greece where ISO 3166 (billing addresses, GeoIP) says GR.
VAT_PREFIX = {"GR": "EL"}
EU_PREFIXES = {VAT_PREFIX.get(code.upper(), code.upper()) for code in eu_vat.MEMBER_STATES}


def clean_vat_number(raw: str, *, country: str) -> str:
    """The number in compact form (``DE136695976``), or a ValidationError saying what is wrong."""
    number = clean(raw or "", " -./,").upper().strip()
    prefix = VAT_PREFIX.get(country, country)
    if not number:
        return ""
    if prefix not in EU_PREFIXES:
        raise ValidationError(
            "VAT numbers are only used for businesses in the EU; leave it blank for "
            f"a billing address in {country}.",
            code="not_eu",
        )
    if not number[:2].isalpha():
        number = prefix + number
    if number[:2] != prefix and number[:2] in EU_PREFIXES:
        raise ValidationError(
            f"{number[:2]} is another country's VAT number; your billing address is in "
            f"{country}, so it should start with {prefix}.",
            code="foreign",
        )
    if number[:2] != prefix:
        raise _format_error(raw, prefix)
    try:
        number = eu_vat.validate(number)
    except InvalidChecksum:
        raise ValidationError(
            f"{number} is not a valid VAT number: its check digits are wrong. Check for a typo.",
            code="checksum",
        ) from None
    except StdnumError:
        raise _format_error(raw, prefix) from None
    return number


def _format_error(raw: str, prefix: str) -> ValidationError:
    return ValidationError(
        f"{raw} does not look like a {prefix} VAT number (wrong length or characters).",
        code="format",
    )


class ViesUnavailable(Exception):
    """VIES (or the member state behind it) did not answer."""


@dataclass(frozen=True)
class ViesAnswer:
    valid: bool
    name: str = ""


class ViesClient:
    """Asks VIES's checkVat operation about one number."""

    ENVELOPE = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:ec.europa.eu:taxud:vies:services:checkVat:types">'
        "<soapenv:Body><urn:checkVat><urn:countryCode>{country}</urn:countryCode>"
        "<urn:vatNumber>{number}</urn:vatNumber></urn:checkVat></soapenv:Body></soapenv:Envelope>"
    )

    def __init__(self, url: str, timeout: float):
        self.url, self.timeout = url, timeout

    def check(self, number: str) -> ViesAnswer:
        body = self.ENVELOPE.format(country=escape(number[:2]), number=escape(number[2:]))
        try:
            response = requests.post(
                self.url,
                data=body.encode(),
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": ""},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ViesUnavailable(str(exc)) from None
        text = response.text
        fault = _element(text, "faultstring")
        if fault:
            if fault == "INVALID_INPUT":
                return ViesAnswer(valid=False)
            # MS_UNAVAILABLE, SERVICE_UNAVAILABLE, TIMEOUT, MS_MAX_CONCURRENT_REQ, ...
            raise ViesUnavailable(fault)
        valid = _element(text, "valid")
        if response.status_code != 200 or valid not in ("true", "false"):
            raise ViesUnavailable(f"unexpected answer (HTTP {response.status_code})")
        return ViesAnswer(valid=valid == "true", name=_element(text, "name") or "")


def _element(xml: str, tag: str) -> str | None:
    # The answer's shape is fixed and small: a pattern reads it without an XML parser's
    # entity expansion to worry about.
    match = re.search(rf"<(?:\w+:)?{tag}>([^<]*)</(?:\w+:)?{tag}>", xml)
    return match.group(1).strip() if match else None


def vies() -> ViesClient:
    """The configured VIES client (WARREN_VIES_URL)."""
    return ViesClient(settings.WARREN_VIES_URL, settings.WARREN_VIES_TIMEOUT_SECONDS)
