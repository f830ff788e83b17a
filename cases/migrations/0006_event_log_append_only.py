"""The case event log refuses changes in the database itself, not only through the model.

PostgreSQL refuses UPDATE and DELETE of an event row. SQLite refuses UPDATE; deletes stay possible
there because Django's test flush empties tables with DELETE (PostgreSQL's TRUNCATE fires no row
triggers), and a case's events are already protected by the PROTECT foreign key.
"""

from django.db import migrations

POSTGRES_UP = ["""
CREATE FUNCTION cases_caseevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'case events are append-only (% refused)', TG_OP USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql
""", """
CREATE TRIGGER cases_caseevent_append_only BEFORE UPDATE OR DELETE ON cases_caseevent
    FOR EACH ROW EXECUTE FUNCTION cases_caseevent_append_only()
"""]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS cases_caseevent_append_only ON cases_caseevent",
    "DROP FUNCTION IF EXISTS cases_caseevent_append_only()",
]
SQLITE_UP = ["""
CREATE TRIGGER cases_caseevent_append_only BEFORE UPDATE ON cases_caseevent
BEGIN SELECT RAISE(ABORT, 'case events are append-only (UPDATE refused)'); END
"""]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS cases_caseevent_append_only"]


def run(statements: dict[str, list[str]]):
    def operation(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)

    return operation


class Migration(migrations.Migration):
    dependencies = [("cases", "0005_case_requested_index")]

    operations = [
        migrations.RunPython(
            run({"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP}),
            run({"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN}),
        )
    ]
