"""Backtests belong to the reports app now (its migration 0003 takes the model over).

Only Django's record of the models changes here: the table, policies_backtest, and its rows stay.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("policies", "0004_texts_as_templates"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Backtest")]),
    ]
