"""Who pays VAT, at which rate: rates and EU membership are dated data (the seed's VATMESS).

Rounding (documented for invoices and the OSS report): VAT is the net amount times the rate,
rounded half up to a whole minor unit, once per invoice; gross is net plus that VAT, so
net + VAT = gross always holds exactly.
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from billing.models import EuMembership, VatRate


class NoVatRate(LookupError):
    pass


def rate_on(country: str, day: datetime.date) -> Decimal:
    """The standard rate in force in ``country`` on ``day`` (the row with the latest valid_from)."""
    row = (
        VatRate.objects.filter(country=country, valid_from__lte=day).order_by("-valid_from").first()
    )
    if row is None:
        raise NoVatRate(f"No VAT rate for {country} on {day}: add one in the admin.")
    return row.rate


def in_eu(country: str, day: datetime.date) -> bool:
    return (
        EuMembership.objects.filter(country=country, joined__lte=day)
        .exclude(left__lte=day)
        .exists()
    )


@dataclass(frozen=True)
class VatDecision:
    charged: bool
    country: str  # whose rate applies ("" when not charged)
    rate: Decimal
    reverse_charge: bool
    note: str


def decide(*, country: str, confirmed_business: bool, day: datetime.date) -> VatDecision:
    """The seed's "vattable" rule, with the buyer's country's rate since 2015."""
    seller = settings.WARREN_BILLING_SELLER_COUNTRY
    zero = Decimal("0.00")
    if country == seller:
        # Home customers pay VAT whoever they are (a business reclaims it at home).
        return VatDecision(True, seller, rate_on(seller, day), False, "VAT at the seller's rate")
    if in_eu(country, day):
        if confirmed_business:
            return VatDecision(
                False, country, zero, True, "Reverse charge: VAT to be accounted for by the buyer"
            )
        return VatDecision(
            True, country, rate_on(country, day), False, f"VAT charged for {country}"
        )
    return VatDecision(False, "", zero, False, "Outside the scope of EU VAT")


def vat_amount(net_minor: int, rate: Decimal) -> int:
    """VAT on ``net_minor`` at ``rate`` percent, half up to a whole minor unit."""
    exact = Decimal(net_minor) * rate / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def split(net_minor: int, decision: VatDecision) -> tuple[int, int]:
    """(VAT, gross) for ``net_minor`` under ``decision``."""
    vat = vat_amount(net_minor, decision.rate) if decision.charged else 0
    return vat, net_minor + vat
