"""Moving a model to another app without moving its rows (for migrations).

The table keeps its name (``Meta.db_table``); the old app forgets the model and the new one learns
it, both in state only. The content type is relabelled so that the permissions staff groups hold,
and anything pointing at the content type, follow the model instead of being left behind.
"""

from __future__ import annotations

from django.db import migrations


def relabel_content_types(*, models: list[str], old_app: str, new_app: str) -> migrations.RunPython:
    def forwards(apps, schema_editor) -> None:
        _relabel(apps, schema_editor, models=models, source=old_app, target=new_app)

    def backwards(apps, schema_editor) -> None:
        _relabel(apps, schema_editor, models=models, source=new_app, target=old_app)

    return migrations.RunPython(forwards, backwards)


def _relabel(apps, schema_editor, *, models: list[str], source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    rows = ContentType.objects.using(schema_editor.connection.alias)
    for model in models:
        # A database migrated before may already hold an empty row for the new label: the old one,
        # with the permissions on it, wins.
        if rows.filter(app_label=source, model=model).exists():
            rows.filter(app_label=target, model=model).delete()
            rows.filter(app_label=source, model=model).update(app_label=target)


def state_only(*operations) -> migrations.SeparateDatabaseAndState:
    """Operations that change what Django knows of the models, not the database."""
    return migrations.SeparateDatabaseAndState(state_operations=list(operations), database_operations=[])
