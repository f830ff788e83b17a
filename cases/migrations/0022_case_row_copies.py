"""The case's copies of its order's storefront and currency and of two facts of its event log
(docs/decisions/0027), filled by set-based SQL: a few statements whatever the number of cases.

On PostgreSQL the case table's secondary indexes are dropped before the fill and built again after
it: a million rewritten rows are then one sort per index instead of a million entries added to each.
The table is locked for the whole migration anyway (ADD COLUMN). Run ``VACUUM ANALYZE
cases_refundcase`` afterwards (autovacuum gets there too): the fill leaves a dead version of every
row, and the dashboard's index-only scans want the visibility map set again.
"""

import django.db.models.deletion
from django.db import migrations, models

# Per case, from its order and its events: the first staff answer (as cases.events.is_first_response
# judges an event) and whether a fix window ran out. Written as plain CASE and MAX, for both databases.
COPIES = """
    SELECT c.id, o.storefront_id, o.currency, f.first_at, f.missed
    FROM cases_refundcase AS c
    JOIN orders_order AS o ON o.id = c.order_id
    LEFT JOIN (
        SELECT case_id,
               MIN(CASE WHEN actor_id IS NOT NULL
                         AND (kind = 'transition' OR (kind = 'comment' AND visibility = 'customer'))
                        THEN created_at END) AS first_at,
               MAX(CASE WHEN transition = 'fix_window_expired' THEN 1 ELSE 0 END) AS missed
        FROM cases_caseevent GROUP BY case_id
    ) AS f ON f.case_id = c.id
"""


def _secondary_indexes(cursor) -> list[tuple[str, str]]:
    """(name, definition) of the case table's indexes that back no constraint (unique ones included)."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'cases_refundcase'::regclass AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
    )
    return cursor.fetchall()


def fill(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        dropped = []
        if postgres:
            # The new foreign key is deferred: checked now, it leaves no pending trigger events to
            # stop the ALTER TABLE that makes the column NOT NULL in this same transaction.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            # Hash joins in memory, in one batch: the rows come out, and their new versions are
            # written, in the table's own order (the order of their requests). Spilled to batches,
            # they are shuffled, and every index-only scan then jumps between visibility map pages.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            dropped = _secondary_indexes(cursor)
            for name, _ in dropped:
                cursor.execute(f'DROP INDEX "{name}"')
        # One pass over the cases writes all four columns: each row gets one new version.
        cursor.execute(f"""
            UPDATE cases_refundcase
            SET storefront_id = s.storefront_id, currency = s.currency, first_response_at = s.first_at,
                fix_window_missed = COALESCE(s.missed, 0) = 1
            FROM ({COPIES}) AS s
            WHERE s.id = cases_refundcase.id
        """)
        for _, definition in dropped:
            cursor.execute(definition)


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0021_mail_event_kind"),
        ("orders", "0006_four_eyes_permission"),
    ]

    operations = [
        migrations.AddField(
            model_name="refundcase",
            name="storefront",
            field=models.ForeignKey(
                editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="cases",
                to="orders.storefront",
            ),
        ),
        migrations.AddField(
            model_name="refundcase",
            name="currency",
            field=models.CharField(default="", editable=False, max_length=3),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="refundcase",
            name="first_response_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True,
                help_text="The first transition a staff member made, or the first message they sent the customer.",
            ),
        ),
        migrations.AddField(
            model_name="refundcase",
            name="fix_window_missed",
            field=models.BooleanField(
                default=False, editable=False, help_text="A fix window ran out unresolved on this case (S0-FIX-48H)."
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="refundcase",
            name="storefront",
            field=models.ForeignKey(
                editable=False, on_delete=django.db.models.deletion.PROTECT, related_name="cases",
                to="orders.storefront",
            ),
        ),
        # The dashboard's indexes (docs/decisions/0027), built once the columns are filled.
        migrations.RemoveIndex(
            model_name="payout",
            name="payout_paid_at",
        ),
        migrations.AddIndex(
            model_name="payout",
            index=models.Index(fields=["paid_at"], include=("currency", "amount"), name="payout_paid_money"),
        ),
        migrations.AddIndex(
            model_name="refundcase",
            index=models.Index(
                condition=models.Q(("state__in", ["requested", "awaiting_fix", "evidence_requested", "approved"])),
                fields=["storefront", "state"], include=("next_deadline",), name="case_open_storefront",
            ),
        ),
        migrations.AddIndex(
            model_name="refundcase",
            index=models.Index(
                condition=models.Q(("state__in", ["denied", "paid", "resolved", "withdrawn"])),
                fields=["decided_at"], include=("state", "requested_at"), name="case_closed_decided",
            ),
        ),
        migrations.AddIndex(
            model_name="refundcase",
            index=models.Index(
                condition=models.Q(("state__in", ["denied", "paid", "resolved", "withdrawn"])),
                fields=["reason", "decided_at"], include=("state",), name="case_closed_reason",
            ),
        ),
        migrations.AddIndex(
            model_name="refundcase",
            index=models.Index(
                condition=models.Q(("approval_cancelled_at__isnull", True), ("approved_at__isnull", False)),
                fields=["approved_at"], include=("currency", "approved_amount"), name="case_approved_money",
            ),
        ),
        migrations.AddIndex(
            model_name="refundcase",
            index=models.Index(
                condition=models.Q(("statutory_override", True)), fields=["approved_at"],
                name="case_statutory_approved",
            ),
        ),
    ]
