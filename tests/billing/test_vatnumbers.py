import pytest
from django.core.exceptions import ValidationError

from billing.models import BillingProfile
from billing.services import billing_profile_save, vat_number_recheck
from billing.vatnumbers import ViesClient, ViesUnavailable, clean_vat_number
from config.errors import AppError

pytestmark = pytest.mark.django_db
Status = BillingProfile.VatNumberStatus

VALID_DE = "DE136695976"  # check digits right (python-stdnum's own example)


def test_a_number_is_compacted_and_its_country_prefix_added():
    assert clean_vat_number("de 136 695 976", country="DE") == VALID_DE
    assert clean_vat_number("136695976", country="DE") == VALID_DE
    assert clean_vat_number("", country="DE") == ""


@pytest.mark.parametrize(
    ("raw", "country", "message"),
    [
        ("DE136695977", "DE", "check digits are wrong"),
        ("DE12", "DE", "does not look like a DE VAT number"),
        ("drop table;", "DE", "does not look like"),
        ("FR40303265045", "DE", "another country's VAT number"),
        ("US123456789", "US", "only used for businesses in the EU"),
    ],
)
def test_garbage_and_foreign_numbers_are_refused_with_a_reason(raw, country, message):
    with pytest.raises(ValidationError) as caught:
        clean_vat_number(raw, country=country)
    assert message in caught.value.messages[0]


def test_greek_numbers_use_el_as_vies_does():
    assert clean_vat_number("094259216", country="GR") == "EL094259216"


def test_vies_confirms_a_registered_number(vies):
    vies.registered[VALID_DE] = "Example GmbH"
    answer = ViesClient(vies.url, 5).check(VALID_DE)
    assert answer.valid and answer.name == "Example GmbH"
    assert ViesClient(vies.url, 5).check("DE129273398").valid is False


def test_vies_down_or_unreachable_is_unavailable_not_invalid(vies):
    vies.down = True
    with pytest.raises(ViesUnavailable):
        ViesClient(vies.url, 5).check(VALID_DE)
    vies.stop()
    with pytest.raises(ViesUnavailable):
        ViesClient(vies.url, 1).check(VALID_DE)
    vies.start = lambda: None  # already stopped; the fixture's stop must not fail
    vies.stop = lambda: None


def _save(user, **changes):
    fields = {"name": "Example GmbH", "address": "1 Street", "country": "DE", "vat_number": ""}
    return billing_profile_save(user=user, **{**fields, **changes})


def test_a_registered_number_makes_a_confirmed_business(user, vies):
    vies.registered[VALID_DE] = "Example GmbH"
    profile = _save(user, vat_number="DE 136 695 976")
    assert profile.vat_number == VALID_DE
    assert profile.is_confirmed_business


def test_a_number_vies_does_not_know_is_refused_and_nothing_stored(user, vies):
    with pytest.raises(ValidationError) as caught:
        _save(user, vat_number=VALID_DE)
    assert "not a registered number" in str(caught.value)
    assert not BillingProfile.objects.filter(user=user).exists()


def test_vies_down_charges_vat_until_a_later_check_confirms(
    user, vies, django_capture_on_commit_callbacks
):
    vies.down = True
    with django_capture_on_commit_callbacks(execute=True):
        profile = _save(user, vat_number=VALID_DE)
    # Fail closed: stored, but not a confirmed business, so VAT is charged...
    profile.refresh_from_db()
    assert profile.vat_number_status == Status.UNVERIFIED
    assert not profile.is_confirmed_business
    # ...the task tried again at once (eager: still down), and a later re-check confirms.
    assert vies.asked.count(VALID_DE) == 2
    vies.down = False
    vies.registered[VALID_DE] = "Example GmbH"
    assert vat_number_recheck(profile_id=profile.pk) == Status.VALID


def test_a_recheck_that_vies_refuses_marks_the_number_invalid(user, vies):
    vies.down = True
    profile = _save(user, vat_number=VALID_DE)
    vies.down = False
    assert vat_number_recheck(profile_id=profile.pk) == Status.INVALID
    profile.refresh_from_db()
    assert not profile.is_confirmed_business


def test_a_recheck_while_vies_is_still_down_raises_for_the_task_to_retry(user, vies):
    vies.down = True
    profile = _save(user, vat_number=VALID_DE)
    with pytest.raises(ViesUnavailable):
        vat_number_recheck(profile_id=profile.pk)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"country": "XX"}, "country"), ({"country": ""}, "country"), ({"name": " "}, "name")],
)
def test_bad_addresses_are_refused_and_nothing_stored(user, changes, field):
    with pytest.raises(AppError) as caught:
        _save(user, **changes)
    assert caught.value.field == field
    assert not BillingProfile.objects.filter(user=user).exists()
