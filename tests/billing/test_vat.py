import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing import vat
from billing.models import VatRate

pytestmark = pytest.mark.django_db
D = datetime.date


def test_a_rate_applies_from_its_valid_from_day():
    # Estonia went from 22% to 24% on 2025-07-01 (seeded).
    assert vat.rate_on("EE", D(2025, 6, 30)) == Decimal("22.00")
    assert vat.rate_on("EE", D(2025, 7, 1)) == Decimal("24.00")


def test_a_temporary_cut_and_its_end_are_both_data():
    assert vat.rate_on("DE", D(2020, 6, 30)) == Decimal("19.00")
    assert vat.rate_on("DE", D(2020, 7, 1)) == Decimal("16.00")
    assert vat.rate_on("DE", D(2021, 1, 1)) == Decimal("19.00")


def test_a_new_rate_is_one_new_row():
    VatRate.objects.create(country="MT", rate=Decimal("20.00"), valid_from=D(2030, 5, 1))
    assert vat.rate_on("MT", D(2030, 4, 30)) == Decimal("18.00")
    assert vat.rate_on("MT", D(2030, 5, 1)) == Decimal("20.00")


def test_no_rate_before_the_first_row_is_an_error_not_zero():
    with pytest.raises(vat.NoVatRate):
        vat.rate_on("FR", D(2014, 12, 31))


def test_the_uk_left_the_eu_on_the_first_of_january_2021():
    assert vat.in_eu("GB", D(2020, 12, 31))
    assert not vat.in_eu("GB", D(2021, 1, 1))
    assert vat.in_eu("HR", D(2013, 7, 1)) and not vat.in_eu("HR", D(2013, 6, 30))
    assert not vat.in_eu("US", D(2021, 1, 1))


TODAY = D(2026, 1, 15)


@pytest.mark.parametrize(
    ("country", "business", "charged", "rate", "reverse"),
    [
        # The seed's "vattable" table: a user in the seller's country (GB) is vattable...
        ("GB", False, True, "20.00", False),
        # ...businesses there too (they reclaim it at home)...
        ("GB", True, True, "20.00", False),
        # ...as is a non-business anywhere else in the EU, now at their own country's rate;
        ("HU", False, True, "27.00", False),
        ("LU", False, True, "17.00", False),
        # EU-based businesses (confirmed VAT number) are not: reverse charge...
        ("DE", True, False, "0.00", True),
        # ...and nor is anyone from outside the EU, business or not.
        ("US", False, False, "0.00", False),
        ("CH", True, False, "0.00", False),
    ],
)
def test_who_is_charged_vat(settings, country, business, charged, rate, reverse):
    settings.WARREN_BILLING_SELLER_COUNTRY = "GB"
    decision = vat.decide(country=country, confirmed_business=business, day=TODAY)
    assert decision.charged is charged
    assert decision.rate == Decimal(rate)
    assert decision.reverse_charge is reverse


def test_before_brexit_a_uk_seller_charged_eu_consumers_their_rate_and_after_too(settings):
    settings.WARREN_BILLING_SELLER_COUNTRY = "DE"
    # A German seller: a UK consumer was an EU consumer in 2020, and is outside the EU now.
    assert vat.decide(country="GB", confirmed_business=False, day=D(2020, 6, 1)).charged
    assert not vat.decide(country="GB", confirmed_business=False, day=D(2021, 6, 1)).charged


def test_vat_is_rounded_half_up_to_the_cent():
    assert vat.vat_amount(1, Decimal("21.00")) == 0  # 0.21 cent
    assert vat.vat_amount(10, Decimal("25.00")) == 3  # 2.5 cents: half up
    assert vat.vat_amount(999, Decimal("25.50")) == 255  # 254.745


@given(
    net=st.integers(min_value=0, max_value=10**9),
    rate=st.decimals(min_value=0, max_value=100, places=2, allow_nan=False),
)
def test_net_plus_vat_is_gross_and_vat_is_within_half_a_cent(net, rate):
    decision = vat.VatDecision(True, "XX", rate, False, "")
    vat_minor, gross = vat.split(net, decision)
    assert net + vat_minor == gross
    exact = Decimal(net) * rate / 100
    assert -Decimal("0.5") < vat_minor - exact <= Decimal("0.5")
