"""EU membership, standard VAT rates with their history since VAT MOSS began (2015-01-01), the
first unit price list and the invoice counter.

Sources: the European Commission's "VAT rates applied in the Member States of the European
Union" (DG TAXUD, published on ec.europa.eu/taxation_customs; editions of 2015-01-01 to 2025-07-01)
for the rates and the dates they changed; the EU's accession treaties for membership; the UK's
withdrawal agreement (transition period ended 2020-12-31) for the UK leaving EU VAT on
2021-01-01. Countries are ISO 3166 codes: Greece is GR here (the EU's tables say EL).
Rates that change later are one new row each in the admin.
"""

import datetime

from django.db import migrations

D = datetime.date
SOURCE = "EC DG TAXUD, VAT rates applied in the Member States"

MEMBERS = [
    # (country, joined, left)
    *[(c, D(1958, 1, 1), None) for c in ("BE", "DE", "FR", "IT", "LU", "NL")],
    ("DK", D(1973, 1, 1), None),
    ("IE", D(1973, 1, 1), None),
    ("GB", D(1973, 1, 1), D(2021, 1, 1)),
    ("GR", D(1981, 1, 1), None),
    ("ES", D(1986, 1, 1), None),
    ("PT", D(1986, 1, 1), None),
    *[(c, D(1995, 1, 1), None) for c in ("AT", "FI", "SE")],
    *[
        (c, D(2004, 5, 1), None)
        for c in ("CY", "CZ", "EE", "HU", "LT", "LV", "MT", "PL", "SI", "SK")
    ],
    ("BG", D(2007, 1, 1), None),
    ("RO", D(2007, 1, 1), None),
    ("HR", D(2013, 7, 1), None),
]

START = D(2015, 1, 1)
RATES = [
    # (country, rate, valid_from): the standard rate on 2015-01-01, then each change.
    ("AT", "20.00", START),
    ("BE", "21.00", START),
    ("BG", "20.00", START),
    ("CY", "19.00", START),
    ("CZ", "21.00", START),
    ("DE", "19.00", START),
    ("DE", "16.00", D(2020, 7, 1)),  # COVID-19 cut, second half of 2020
    ("DE", "19.00", D(2021, 1, 1)),
    ("DK", "25.00", START),
    ("EE", "20.00", START),
    ("EE", "22.00", D(2024, 1, 1)),
    ("EE", "24.00", D(2025, 7, 1)),
    ("ES", "21.00", START),
    ("FI", "24.00", START),
    ("FI", "25.50", D(2024, 9, 1)),
    ("FR", "20.00", START),
    ("GB", "20.00", START),
    ("GR", "23.00", START),
    ("GR", "24.00", D(2016, 6, 1)),
    ("HR", "25.00", START),
    ("HU", "27.00", START),
    ("IE", "23.00", START),
    ("IE", "21.00", D(2020, 9, 1)),  # COVID-19 cut, September 2020 to February 2021
    ("IE", "23.00", D(2021, 3, 1)),
    ("IT", "22.00", START),
    ("LT", "21.00", START),
    ("LU", "17.00", START),
    ("LU", "16.00", D(2023, 1, 1)),  # temporary cut for 2023
    ("LU", "17.00", D(2024, 1, 1)),
    ("LV", "21.00", START),
    ("MT", "18.00", START),
    ("NL", "21.00", START),
    ("PL", "23.00", START),
    ("PT", "23.00", START),
    ("RO", "24.00", START),
    ("RO", "20.00", D(2016, 1, 1)),
    ("RO", "19.00", D(2017, 1, 1)),
    ("RO", "21.00", D(2025, 8, 1)),
    ("SE", "25.00", START),
    ("SI", "22.00", START),
    ("SK", "20.00", START),
    ("SK", "23.00", D(2025, 1, 1)),
]


def seed(apps, schema_editor):
    EuMembership = apps.get_model("billing", "EuMembership")
    VatRate = apps.get_model("billing", "VatRate")
    for country, joined, left in MEMBERS:
        EuMembership.objects.get_or_create(country=country, joined=joined, defaults={"left": left})
    for country, rate, valid_from in RATES:
        VatRate.objects.get_or_create(
            country=country, valid_from=valid_from, defaults={"rate": rate, "source": SOURCE}
        )
    apps.get_model("billing", "UnitPrices").objects.get_or_create(pk=1)
    apps.get_model("billing", "InvoiceCounter").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
