"""The quarterly OSS return ("MOSS" in the seed): net and VAT per member state and rate.

Since July 2021 the EU's One Stop Shop replaced the Mini One Stop Shop. A seller established in
the EU files under the Union scheme; one outside it (the seed's UK seller since 2021) under the
non-Union scheme. Either way the return lists, per member state of consumption and per VAT rate,
the taxable amount and the VAT: a country whose rate changed mid-quarter has one row per rate.
Sales in the seller's own country are domestic (its ordinary VAT return), and reverse-charged
sales carry no VAT, so neither is in it. Credit notes count in the quarter they are issued.
"""

import csv
import datetime
import io
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Sum

from billing.models import Invoice
from billing.vat import in_eu


@dataclass(frozen=True)
class OssRow:
    country: str
    rate: Decimal
    net_minor: int
    vat_minor: int
    documents: int


def quarter_bounds(year: int, quarter: int) -> tuple[datetime.date, datetime.date]:
    if quarter not in (1, 2, 3, 4):
        raise ValueError("quarter must be 1 to 4")
    start = datetime.date(year, 3 * quarter - 2, 1)
    end = datetime.date(year + 1, 1, 1) if quarter == 4 else datetime.date(year, 3 * quarter + 1, 1)
    return start, end - datetime.timedelta(days=1)


def scheme(day: datetime.date) -> str:
    return "Union" if in_eu(settings.WARREN_BILLING_SELLER_COUNTRY, day) else "non-Union"


def oss_report(*, year: int, quarter: int) -> list[OssRow]:
    """The rows of the quarter's OSS return, by country then rate."""
    first, last = quarter_bounds(year, quarter)
    totals = (
        Invoice.objects.filter(issued_on__range=(first, last), reverse_charge=False)
        .exclude(vat_country="")
        .exclude(vat_country=settings.WARREN_BILLING_SELLER_COUNTRY)
        .values("vat_country", "vat_rate")
        .annotate(net=Sum("net_minor"), vat=Sum("vat_minor"), documents=Count("id"))
        .order_by("vat_country", "vat_rate")
    )
    return [
        OssRow(row["vat_country"], row["vat_rate"], row["net"], row["vat"], row["documents"])
        for row in totals
        if in_eu(row["vat_country"], last)
    ]


def oss_csv(*, year: int, quarter: int) -> str:
    """The report as CSV, amounts in major units of the billing currency."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["scheme", "period", "member_state_of_consumption", "vat_rate_percent", "rate_type",
         "taxable_amount", "vat_amount", "currency", "documents"]
    )  # fmt: skip
    first, _ = quarter_bounds(year, quarter)
    currency = settings.WARREN_BILLING_CURRENCY
    for row in oss_report(year=year, quarter=quarter):
        writer.writerow(
            [scheme(first), f"{year}-Q{quarter}", row.country, row.rate, "standard",
             _major(row.net_minor), _major(row.vat_minor), currency, row.documents]
        )  # fmt: skip
    return out.getvalue()


def _major(minor: int) -> str:
    return str((Decimal(minor) / 100).quantize(Decimal("0.01")))
