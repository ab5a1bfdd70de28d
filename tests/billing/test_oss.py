import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from billing.invoicing import credit_note_issue, invoice_issue
from billing.models import Subscription, VatRate
from billing.oss import oss_report, quarter_bounds
from tests.billing.test_invoicing import subscribed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
D = datetime.date


def test_quarters_have_their_bounds():
    assert quarter_bounds(2030, 2) == (D(2030, 4, 1), D(2030, 6, 30))
    assert quarter_bounds(2030, 4) == (D(2030, 10, 1), D(2030, 12, 31))
    with pytest.raises(ValueError):
        quarter_bounds(2030, 5)


def test_one_row_per_country_and_rate_without_domestic_or_other_quarters(settings, geoip):
    settings.WARREN_BILLING_SELLER_COUNTRY = "GB"
    settings.WARREN_BILLING_TRIAL_DAYS = 0
    VatRate.objects.create(country="DE", rate=Decimal("21.00"), valid_from=D(2030, 5, 1))
    sales = [
        ("DE", D(2030, 4, 10)),
        ("DE", D(2030, 4, 20)),
        ("DE", D(2030, 5, 10)),
        ("FR", D(2030, 6, 30)),
        ("GB", D(2030, 4, 2)),
        ("DE", D(2030, 7, 1)),
    ]
    for country, day in sales:
        subscription = subscribed(UserFactory(), country=country)
        Subscription.objects.filter(pk=subscription.pk).update(next_invoice_date=day)
        invoice_issue(subscription_id=subscription.pk, today=day)
    rows = [
        (r.country, r.rate, r.net_minor, r.vat_minor, r.documents)
        for r in oss_report(year=2030, quarter=2)
    ]
    assert rows == [
        ("DE", Decimal("19.00"), 1000, 190, 2),  # two Hacker months at 19%: 95 + 95
        ("DE", Decimal("21.00"), 500, 105, 1),  # after the change on 1 May
        ("FR", Decimal("20.00"), 500, 100, 1),
    ]  # GB is the seller's own country: domestic, not OSS; 1 July is the next quarter


def test_credit_notes_reduce_the_quarter_they_are_issued_in(settings, geoip):
    settings.WARREN_BILLING_SELLER_COUNTRY = "GB"
    settings.WARREN_BILLING_TRIAL_DAYS = 0
    subscription = subscribed(UserFactory(), country="FR")
    Subscription.objects.filter(pk=subscription.pk).update(next_invoice_date=D(2030, 4, 5))
    invoice = invoice_issue(subscription_id=subscription.pk, today=D(2030, 4, 5))
    credit_note_issue(invoice=invoice, today=D(2030, 4, 6))
    [row] = oss_report(year=2030, quarter=2)
    assert (row.net_minor, row.vat_minor, row.documents) == (0, 0, 2)


def test_staff_download_the_report_as_csv(staff_client, settings, geoip):
    settings.WARREN_BILLING_SELLER_COUNTRY = "GB"
    settings.WARREN_BILLING_TRIAL_DAYS = 0
    subscription = subscribed(UserFactory(), country="DE")
    Subscription.objects.filter(pk=subscription.pk).update(next_invoice_date=D(2030, 4, 5))
    invoice_issue(subscription_id=subscription.pk, today=D(2030, 4, 5))
    url = reverse("admin:billing_invoice_oss")
    page = staff_client.get(url, {"year": 2030, "quarter": 2}).content.decode()
    assert "non-Union scheme" in page and "MOSS" in page
    response = staff_client.get(url, {"year": 2030, "quarter": 2, "format": "csv"})
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows == [
        {"scheme": "non-Union", "period": "2030-Q2", "member_state_of_consumption": "DE",
         "vat_rate_percent": "19.00", "rate_type": "standard", "taxable_amount": "5.00",
         "vat_amount": "0.95", "currency": "EUR", "documents": "1"}
    ]  # fmt: skip
    assert staff_client.get(url, {"year": "x", "quarter": 9}).status_code == 400


def test_a_seller_in_the_eu_files_under_the_union_scheme(settings):
    from billing.oss import scheme

    settings.WARREN_BILLING_SELLER_COUNTRY = "IE"
    assert scheme(D(2030, 4, 1)) == "Union"
    settings.WARREN_BILLING_SELLER_COUNTRY = "GB"
    assert scheme(D(2020, 4, 1)) == "Union" and scheme(D(2021, 4, 1)) == "non-Union"
