"""Support managers read the call log and the orders kept aside, and may have those read again.

Managing connections (their secrets) is given to no group: superusers only, unless granted by hand.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = ("view_shopcall", "view_keptasideorder", "change_keptasideorder")


def grant(apps, schema_editor):
    app_config = apps.get_app_config("shop")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="shop", codename__in=GRANTS)
    for group in Group.objects.filter(name="Support manager"):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(content_type__app_label="shop", codename__in=GRANTS)
    for group in Group.objects.filter(name="Support manager"):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0001_initial"),
        ("cases", "0003_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
