"""Support managers read the call log and the orders kept aside, and may have those read again.

Managing connections (their secrets) is given to no group: superusers only, unless granted by hand.
"""

from django.db import migrations

from core.moves import grant_to_groups

GRANTS = ("view_shopcall", "view_keptasideorder", "change_keptasideorder")


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0001_initial"),
        ("cases", "0003_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [grant_to_groups(app_label="shop", codename=codename, groups=["Support manager"]) for codename in GRANTS]
