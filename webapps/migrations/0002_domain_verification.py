# Custom domains need a DNS TXT proof before they serve; settings changed since the last Reload
# are shown as pending.

from django.db import migrations, models

import webapps.models


def give_each_app_its_own_token(apps, schema_editor):
    # AddField evaluates the callable default once for every existing row.
    WebApp = apps.get_model("webapps", "WebApp")
    for webapp in WebApp.objects.all():
        webapp.domain_token = webapps.models.new_domain_token()
        webapp.save(update_fields=["domain_token"])


class Migration(migrations.Migration):
    dependencies = [("webapps", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="webapp",
            name="changed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webapp",
            name="applied_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="webapp",
            name="domain_token",
            field=models.CharField(default=webapps.models.new_domain_token, max_length=64),
        ),
        migrations.AddField(
            model_name="webapp",
            name="verified_domain",
            field=models.CharField(blank=True, max_length=253),
        ),
        migrations.RunPython(give_each_app_its_own_token, migrations.RunPython.noop),
    ]
