"""Support managers download chargebacks' evidence packets (docs/disputes.md); agents do not."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs this one now.
    app_config = apps.get_app_config("orders")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="orders", codename="download_evidence_packet")
    for group in Group.objects.filter(name="Support manager"):
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0004_jobs"),
        ("orders", "0010_dispute_details"),
        ("cases", "0003_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
