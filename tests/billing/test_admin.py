import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

# The counter is only ever moved by invoicing, under its row lock.
INTERNAL = {"billing.InvoiceCounter"}


def billing_models():
    return [m for m in apps.get_app_config("billing").get_models() if m._meta.label not in INTERNAL]


def test_every_billing_model_is_in_the_admin():
    assert [m._meta.label for m in billing_models() if not admin.site.is_registered(m)] == []


@pytest.mark.parametrize("model", billing_models(), ids=lambda m: m._meta.label)
def test_staff_can_list_and_search_every_billing_model(staff_client, model):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert staff_client.get(changelist).status_code == 200
    assert staff_client.get(changelist, {"q": "alice"}).status_code == 200


def test_records_for_the_tax_authority_cannot_be_added_or_deleted_by_hand(staff_client):
    for name in ("invoice", "evidence", "planchange"):
        assert staff_client.get(reverse(f"admin:billing_{name}_add")).status_code == 403


def test_the_billing_admin_page_says_no_geoip_database_is_shipped(staff_client, settings):
    settings.WARREN_GEOIP_DATABASE = None
    page = staff_client.get(reverse("admin:app_list", args=["billing"])).content.decode()
    assert "No GeoIP database is configured" in page


def test_outsiders_cannot_reach_the_billing_admin(alice_client):
    response = alice_client.get(reverse("admin:billing_invoice_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_run_shows_its_counts_and_actions(staff_client, user):
    import datetime

    from billing.models import ReconciliationAction, ReconciliationRun

    run = ReconciliationRun.objects.create(today=datetime.date(2030, 4, 29), nerfed=True, checked=3)
    ReconciliationAction.objects.create(
        run=run,
        gateway="paypal",
        gateway_id="I-000000000042",
        outcome=ReconciliationAction.Outcome.DEFERRED,
        reason="Within 72 hours",
        gateway_gross_minor=590,
        expected_gross_minor=600,
    )
    page = staff_client.get(reverse("admin:billing_reconciliationrun_change", args=[run.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "I-000000000042" in body and "Deferred" in body
    listing = staff_client.get(
        reverse("admin:billing_reconciliationaction_changelist"), {"outcome": "deferred"}
    ).content.decode()
    assert "I-000000000042" in listing and ">10<" in listing
    assert staff_client.get(reverse("admin:billing_reconciliationrun_add")).status_code == 403
