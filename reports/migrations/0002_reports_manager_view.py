"""Support managers may read the export records (they already hold the export permission)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    app_config = apps.get_app_config("reports")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="reports", codename="view_exportrecord")
    for group in Group.objects.filter(name="Support manager"):
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_reports_exports"),
        ("cases", "0003_groups"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
