"""The policies app's Backtest model, taken over as it was: same table, same rows, same permissions.

Only Django's record of the models changes (policies 0005 drops it there): the table keeps its name,
policies_backtest. The content type moves with the model, so the permissions on it, and the staff
groups holding them (managers view backtests), stay as they were, now as ``reports.*_backtest``.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def move_content_type(source: str, target: str):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        Permission = apps.get_model("auth", "Permission")
        LogEntry = apps.get_model("admin", "LogEntry")
        old = ContentType.objects.filter(app_label=source, model="backtest").first()
        if old is None:
            return
        new = ContentType.objects.filter(app_label=target, model="backtest").first()
        if new is None:
            old.app_label = target
            old.save(update_fields=["app_label"])
            return
        # Both exist when something asked for the model's content type before this ran: the older one's
        # grants and history move onto the newer before it goes.
        for permission in Permission.objects.filter(content_type=old):
            twin = Permission.objects.filter(content_type=new, codename=permission.codename).first()
            if twin is None:
                permission.content_type = new
                permission.save(update_fields=["content_type"])
                continue
            for group in permission.group_set.all():
                group.permissions.add(twin)
            for user in permission.user_set.all():
                user.user_permissions.add(twin)
            permission.delete()
        LogEntry.objects.filter(content_type=old).update(content_type=new)
        old.delete()

    return move


class Migration(migrations.Migration):

    dependencies = [
        ("reports", "0002_reports_manager_view"),
        ("policies", "0005_backtest_moves_to_reports"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name="Backtest",
                fields=[
                    ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                    ("parameters", models.JSONField(help_text="The draft's parameters when it ran; a later edit makes it stale.")),
                    ("period_start", models.DateTimeField()),
                    ("period_end", models.DateTimeField()),
                    ("status", models.CharField(choices=[("queued", "Queued"), ("running", "Running"), ("done", "Done"), ("failed", "Failed")], default="queued", max_length=10)),
                    ("total", models.PositiveIntegerField(default=0, help_text="Closed cases in the period.")),
                    ("processed", models.PositiveIntegerField(default=0)),
                    ("changed", models.PositiveIntegerField(blank=True, null=True)),
                    ("summary", models.JSONField(blank=True, default=dict)),
                    ("error", models.TextField(blank=True)),
                    ("created_at", models.DateTimeField(auto_now_add=True)),
                    ("started_at", models.DateTimeField(blank=True, null=True)),
                    ("finished_at", models.DateTimeField(blank=True, null=True)),
                    ("requested_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ("draft", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="backtests", to="policies.policydraft")),
                ],
                options={
                    "db_table": "policies_backtest",
                    "ordering": ["-created_at", "-id"],
                    "constraints": [models.CheckConstraint(condition=models.Q(("period_start__lt", models.F("period_end"))), name="backtest_period_ordered")],
                },
            ),
        ]),
        migrations.RunPython(move_content_type("policies", "reports"), move_content_type("reports", "policies")),
    ]
