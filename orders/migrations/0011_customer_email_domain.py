"""The case search's e-mail domain: a b-tree on the upper-cased part of the e-mail after its "@".

On PostgreSQL the table is analysed at once: the index's statistics (how many customers each domain
has) are what lets the planner choose between walking the case list's order and reading a rare
domain's few cases; without them it guesses until the next ANALYZE, which autovacuum may be slow to
run (or, as on the bench machine, not run at all).
"""

import django.db.models.expressions
import django.db.models.functions.text
from django.db import migrations, models


def analyse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ANALYZE orders_customer")


class Migration(migrations.Migration):

    dependencies = [
        ("orders", "0010_dispute_details"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                django.db.models.functions.text.Upper(
                    django.db.models.functions.text.Substr(
                        "email",
                        django.db.models.expressions.CombinedExpression(
                            django.db.models.functions.text.StrIndex("email", models.Value("@")),
                            "+",
                            models.Value(1),
                        ),
                    )
                ),
                name="customer_email_domain",
            ),
        ),
        migrations.RunPython(analyse, migrations.RunPython.noop, elidable=True),
    ]
