"""Support managers may reset a colleague's second factor when a device is lost (docs/two-factor.md)."""

from django.db import migrations

from core.moves import grant_to_groups


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0029_moved_to_mail"),
        ("core", "0001_second_factor_reset"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [grant_to_groups(app_label="core", codename="reset_second_factor", groups=["Support manager"])]
