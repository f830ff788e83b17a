"""Trigram indexes for the case search's parts of an e-mail, a name or a case number (PostgreSQL).

The expressions are the ones Django writes for ``icontains`` (``UPPER(col::text) LIKE UPPER(%s)``)
and ``contains`` (``col LIKE %s``), so the planner can use them. SQLite has neither the extension
nor GIN indexes; there the same lookups stay plain ``LIKE`` scans, and this migration does nothing.
"""

from django.db import migrations

POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS customer_email_trgm ON orders_customer USING gin ((UPPER(email::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS customer_name_trgm ON orders_customer USING gin ((UPPER(name::text)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS case_number_trgm ON cases_refundcase USING gin (number gin_trgm_ops)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS customer_email_trgm",
    "DROP INDEX IF EXISTS customer_name_trgm",
    "DROP INDEX IF EXISTS case_number_trgm",
]


def run(statements: dict[str, list[str]]):
    def operation(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("cases", "0013_list_indexes"), ("orders", "0007_lookup_indexes")]

    operations = [migrations.RunPython(run({"postgresql": POSTGRES_UP}), run({"postgresql": POSTGRES_DOWN}))]
