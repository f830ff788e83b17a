"""Support managers download chargebacks' evidence packets (docs/disputes.md); agents do not."""

from django.db import migrations

from core.moves import grant_to_groups


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0004_jobs"),
        ("orders", "0010_dispute_details"),
        ("cases", "0003_groups"),
    ]

    operations = [grant_to_groups(app_label="orders", codename="download_evidence_packet", groups=["Support manager"])]
