"""The seed's two-evidence rule: the billing address and the IP must agree whenever either
is in the EU, or we cannot know which VAT to charge and may not sell at all."""

import datetime
from dataclasses import dataclass

from billing.countries import COUNTRIES
from billing.vat import in_eu


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


def judge(*, billing_country: str, ip_country: str, day: datetime.date) -> Verdict:
    """Whether two pieces of evidence are enough to sell on ``day`` (membership is dated)."""
    billing_eu = in_eu(billing_country, day)
    ip_eu = bool(ip_country) and in_eu(ip_country, day)
    ip_name = COUNTRIES.get(ip_country, "an unknown country")
    billing_name = COUNTRIES.get(billing_country, billing_country)
    if not billing_eu and not ip_eu:
        return Verdict(True, "Neither the billing address nor the IP address is in the EU.")
    if billing_country == ip_country:
        return Verdict(True, f"Billing address and IP address agree: {billing_name}.")
    return Verdict(
        False,
        f"Billing address in {billing_name} but IP address in {ip_name}: the two pieces of "
        "evidence disagree and one of them is in the EU.",
    )
