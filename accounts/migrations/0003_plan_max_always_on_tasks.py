from django.db import migrations, models

# Paid plans keep commands running (PythonAnywhere's Hacker has one, Web Developer two); the
# free plan none. Custom limits start at none: staff raise them in the admin.
ALWAYS_ON = {"beginner": 0, "hacker": 1, "web-developer": 2}


def seed(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    for slug, count in ALWAYS_ON.items():
        Plan.objects.filter(slug=slug).update(max_always_on_tasks=count)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_seed_plans")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="max_always_on_tasks",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="customlimits",
            name="max_always_on_tasks",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
