import datetime
import subprocess
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from accounts.models import Plan
from billing.invoicing import add_month, credit_note_issue, invoice_issue, issue_due_invoices
from billing.models import Evidence, Invoice, VatRate
from billing.pdf import invoice_pdf
from billing.services import billing_profile_save, subscription_change
from tests.billing.conftest import IP_IN
from tests.factories import UserFactory

D = datetime.date


def subscribed(user, country="DE", settings=None):
    billing_profile_save(
        user=user, name=f"{user.username} Ltd", address="1 Road", country=country, vat_number=""
    )
    return subscription_change(
        user=user,
        ip_address=IP_IN[country],
        plan=Plan.objects.get(slug="hacker"),
        quoted_net_minor=500,
    )


@pytest.fixture
def trial_days(settings):
    settings.WARREN_BILLING_TRIAL_DAYS = 14
    settings.WARREN_BILLING_SELLER = "Warren Ltd\n1 High Street\nLondon\nGB123456789"


@pytest.mark.django_db
def test_an_invoice_is_issued_when_the_trial_ends_with_vat_of_that_day(user, geoip, trial_days):
    subscription = subscribed(user)
    due = subscription.next_invoice_date
    assert (
        invoice_issue(subscription_id=subscription.pk, today=due - datetime.timedelta(days=1))
        is None
    )
    # Germany's rate changes on the invoice date: the invoice uses the new one.
    VatRate.objects.create(country="DE", rate=Decimal("21.00"), valid_from=due)
    invoice = invoice_issue(subscription_id=subscription.pk, today=due)
    assert (invoice.net_minor, invoice.vat_rate, invoice.vat_minor, invoice.gross_minor) == (
        500,
        Decimal("21.00"),
        105,
        605,
    )
    assert invoice.vat_country == "DE" and invoice.currency == "EUR"
    assert invoice.evidence == Evidence.objects.get(user=user)
    assert invoice.period_start == due and invoice.period_end == add_month(
        due
    ) - datetime.timedelta(days=1)
    subscription.refresh_from_db()
    assert subscription.next_invoice_date == add_month(due)
    # Running the daily job again issues nothing twice.
    assert issue_due_invoices(today=due) == 0


@pytest.mark.django_db
def test_months_end_on_their_last_day():
    assert add_month(D(2026, 1, 31)) == D(2026, 2, 28)
    assert add_month(D(2026, 12, 15)) == D(2027, 1, 15)


@pytest.mark.django_db
def test_an_issued_invoice_cannot_be_changed_or_deleted(user, geoip, trial_days):
    subscription = subscribed(user)
    invoice = invoice_issue(subscription_id=subscription.pk, today=subscription.next_invoice_date)
    invoice.gross_minor = 1
    with pytest.raises(ValidationError, match="cannot be changed"):
        invoice.save()
    with pytest.raises(ValidationError, match="cannot be deleted"):
        invoice.delete()
    assert Invoice.objects.get(pk=invoice.pk).gross_minor == 595


@pytest.mark.django_db
def test_a_correction_is_a_credit_note_with_the_next_number(user, geoip, trial_days):
    subscription = subscribed(user)
    invoice = invoice_issue(subscription_id=subscription.pk, today=subscription.next_invoice_date)
    note = credit_note_issue(invoice=invoice, today=subscription.next_invoice_date)
    assert note.number == invoice.number + 1
    assert (note.net_minor, note.vat_minor, note.gross_minor) == (-500, -95, -595)
    assert note.credits == invoice and note.kind == Invoice.Kind.CREDIT_NOTE
    with pytest.raises(ValidationError, match="already been credited"):
        credit_note_issue(invoice=invoice, today=subscription.next_invoice_date)


# Serialized rollback: the flush after this test must put back the seeded rows (plans, VAT
# rates, the invoice counter) and content types for the tests that follow on this worker.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_issuing_neither_duplicates_nor_skips_a_number(geoip, trial_days):
    users = [UserFactory() for _ in range(8)]
    subscriptions = [subscribed(user) for user in users]
    due = subscriptions[0].next_invoice_date
    start, errors = threading.Barrier(len(subscriptions)), []

    def issue(subscription_id):
        try:
            start.wait()
            invoice_issue(subscription_id=subscription_id, today=due)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(s.pk,)) for s in subscriptions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == list(range(1, len(subscriptions) + 1))


@pytest.fixture
def alices_invoice(user, geoip, trial_days):
    subscription = subscribed(user)
    return invoice_issue(subscription_id=subscription.pk, today=subscription.next_invoice_date)


@pytest.mark.django_db
def test_the_owner_sees_her_invoices_and_their_pdf(
    alice_client, alices_invoice, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        page = alice_client.get(reverse("billing:invoices")).content.decode()
    assert f"Invoice {alices_invoice.display_number}" in page
    page = alice_client.get(
        reverse("billing:invoice", args=[alices_invoice.number])
    ).content.decode()
    for fact in ("Warren Ltd", "alice Ltd", "EUR 5.00", "VAT 19.00% (DE)", "EUR 0.95", "EUR 5.95"):
        assert fact in page
    response = alice_client.get(reverse("billing:invoice_pdf", args=[alices_invoice.number]))
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["billing:invoice", "billing:invoice_pdf"])
def test_an_outsider_gets_404_for_someone_elses_invoice(outsider_client, alices_invoice, name):
    assert outsider_client.get(reverse(name, args=[alices_invoice.number])).status_code == 404


@pytest.mark.django_db
def test_an_outsiders_invoice_list_does_not_show_hers(outsider_client, alices_invoice):
    page = outsider_client.get(reverse("billing:invoices")).content.decode()
    assert alices_invoice.display_number not in page


@pytest.mark.django_db
def test_the_pdf_renders_as_a_page(alices_invoice, tmp_path):
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(invoice_pdf(alices_invoice))
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page-1.png").stat().st_size > 1000
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    for fact in ("Invoice 000001", "alice Ltd", "VAT 19.00% (Germany)", "EUR 5.95"):
        assert fact in text


@pytest.mark.django_db
def test_a_reverse_charged_invoice_says_so(user, geoip, trial_days, vies):
    vies.registered["DE136695976"] = "Alice GmbH"
    billing_profile_save(
        user=user, name="Alice GmbH", address="", country="DE", vat_number="DE136695976"
    )
    subscription = subscription_change(
        user=user,
        ip_address=IP_IN["DE"],
        plan=Plan.objects.get(slug="hacker"),
        quoted_net_minor=500,
    )
    invoice = invoice_issue(subscription_id=subscription.pk, today=subscription.next_invoice_date)
    assert invoice.reverse_charge and invoice.vat_minor == 0 and invoice.gross_minor == 500
    assert invoice.buyer_vat_number == "DE136695976"
    assert "Reverse charge" in invoice.vat_note


@pytest.mark.django_db
def test_staff_list_and_filter_invoices_and_credit_one(staff_client, alices_invoice):
    url = reverse("admin:billing_invoice_changelist")
    assert alices_invoice.display_number in staff_client.get(url).content.decode()
    assert staff_client.get(url, {"vat_country": "DE", "kind": "invoice"}).status_code == 200
    response = staff_client.post(
        url, {"action": "credit", "_selected_action": [alices_invoice.pk]}, follow=True
    )
    assert "Issued Credit note" in response.content.decode()
    assert Invoice.objects.filter(credits=alices_invoice).count() == 1
    assert staff_client.get(
        reverse("admin:billing_invoice_pdf", args=[alices_invoice.pk])
    ).content.startswith(b"%PDF")
