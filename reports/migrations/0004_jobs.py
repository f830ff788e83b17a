"""Exports and backtests become ``core.jobs.Job`` models: one set of columns, one meaning.

- Export jobs: ``done`` is named ``processed`` and ``user`` is ``requested_by``, as on every job
  (renamed columns: no row changes); the check that progress stays within the total follows.
- Both gain the "cancelled" status (the other four keep their names), and a count of attempts: a
  job that was ever taken up by a worker ran once; a queued one not yet. Export jobs gain the
  moment they started, unknown (empty) for those that ran before.
- Support managers may view their own export jobs in the admin, as they view their export records.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from core.moves import grant_to_groups

STATUSES = [("queued", "Queued"), ("running", "Running"), ("done", "Done"), ("failed", "Failed"),
            ("cancelled", "Cancelled")]
EXPORT_STATUSES = [(value, "Ready" if value == "done" else label) for value, label in STATUSES]


def count_past_attempts(apps, schema_editor):
    for name in ("ExportJob", "Backtest"):
        apps.get_model("reports", name).objects.exclude(status="queued").update(attempts=1)


def job_fields(model_name: str, *, status_choices, requested_by) -> list:
    return [
        migrations.AlterField(model_name, "status", models.CharField(choices=status_choices, default="queued",
                                                                      max_length=10)),
        migrations.AlterField(model_name, "total", models.PositiveIntegerField(
            default=0, help_text="How many items the job goes through, once known.")),
        migrations.AlterField(model_name, "processed", models.PositiveIntegerField(
            default=0, help_text="How many of them are done.")),
        migrations.AlterField(model_name, "error", models.TextField(
            blank=True, help_text="Why it failed, in words for the person who asked.")),
        migrations.AlterField(model_name, "requested_by", requested_by),
        migrations.AlterField(model_name, "created_at", models.DateTimeField(default=django.utils.timezone.now)),
        migrations.AddField(model_name, "attempts", models.PositiveIntegerField(
            default=0, help_text="How many times a worker took it up.")),
    ]


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0003_backtest_from_policies"),
        ("cases", "0003_groups"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="exportjob", name="export_job_done_within_total"),
        migrations.RenameField(model_name="exportjob", old_name="done", new_name="processed"),
        migrations.RenameField(model_name="exportjob", old_name="user", new_name="requested_by"),
        migrations.AddField(model_name="exportjob", name="started_at",
                            field=models.DateTimeField(blank=True, null=True)),
        *job_fields("exportjob", status_choices=EXPORT_STATUSES, requested_by=models.ForeignKey(
            help_text="Who asked for it: only they see it.", on_delete=django.db.models.deletion.PROTECT,
            related_name="+", to=settings.AUTH_USER_MODEL)),
        migrations.AddConstraint(model_name="exportjob", constraint=models.CheckConstraint(
            condition=models.Q(("processed__lte", models.F("total"))), name="export_job_processed_within_total")),
        *job_fields("backtest", status_choices=STATUSES, requested_by=models.ForeignKey(
            blank=True, null=True, help_text="Who asked for it (none: a command).",
            on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
        migrations.RunPython(count_past_attempts, migrations.RunPython.noop),
        grant_to_groups(app_label="reports", codename="view_exportjob", groups=["Support manager"]),
    ]
