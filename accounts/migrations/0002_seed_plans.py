from django.db import migrations

MIB = 1024 * 1024
GIB = 1024 * MIB

# The plans PythonAnywhere's users know; prices in minor units (cents) before VAT.
PLANS = [
    {
        "slug": "beginner",
        "name": "Beginner",
        "display_order": 1,
        "monthly_price_minor": 0,
        "cpu_seconds_per_day": 100,
        "max_consoles": 2,
        "max_web_apps": 1,
        "max_web_workers_per_app": 1,
        "disk_bytes": 512 * MIB,
        "max_scheduled_tasks": 1,
        "postgres_allowed": False,
        "custom_domains_allowed": False,
    },
    {
        "slug": "hacker",
        "name": "Hacker",
        "display_order": 2,
        "monthly_price_minor": 500,
        "cpu_seconds_per_day": 2000,
        "max_consoles": None,
        "max_web_apps": 1,
        "max_web_workers_per_app": 2,
        "disk_bytes": 2 * GIB,
        "max_scheduled_tasks": 20,
        "postgres_allowed": False,
        "custom_domains_allowed": True,
    },
    {
        "slug": "web-developer",
        "name": "Web Developer",
        "display_order": 3,
        "monthly_price_minor": 1200,
        "cpu_seconds_per_day": 4000,
        "max_consoles": None,
        "max_web_apps": 3,
        "max_web_workers_per_app": 3,
        "disk_bytes": 5 * GIB,
        "max_scheduled_tasks": 20,
        "postgres_allowed": False,
        "custom_domains_allowed": True,
    },
]


def seed_plans(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    for fields in PLANS:
        Plan.objects.update_or_create(slug=fields["slug"], defaults=fields)


def unseed_plans(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    Plan.objects.filter(slug__in=[p["slug"] for p in PLANS], users__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(seed_plans, unseed_plans)]
