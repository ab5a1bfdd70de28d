from django.db import migrations, models

# SSH into the sandbox is for paid plans, as on PythonAnywhere; the free plan has none.
# Custom limits (sold by billing's builder or set by staff) are paid: they get it too.
PAID = ("hacker", "web-developer")


def seed(apps, schema_editor):
    Plan = apps.get_model("accounts", "Plan")
    CustomLimits = apps.get_model("accounts", "CustomLimits")
    Plan.objects.filter(slug__in=PAID).update(ssh_allowed=True)
    CustomLimits.objects.update(ssh_allowed=True)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_plan_max_always_on_tasks")]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="ssh_allowed",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="customlimits",
            name="ssh_allowed",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
