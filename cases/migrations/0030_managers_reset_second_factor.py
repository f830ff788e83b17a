"""Support managers may reset a colleague's second factor when a device is lost (docs/two-factor.md)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Support manager"


def grant(apps, schema_editor):
    app_config = apps.get_app_config("core")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="core", codename="reset_second_factor")
    for group in Group.objects.filter(name=GROUP):
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.filter(content_type__app_label="core", codename="reset_second_factor").first()
    if permission is not None:
        for group in Group.objects.filter(name=GROUP):
            group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0029_moved_to_mail"),
        ("core", "0001_second_factor_reset"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
