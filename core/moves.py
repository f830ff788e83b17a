"""Operations migrations share: moving a model to another app without moving its rows, granting a permission.

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


def grant_to_groups(*, app_label: str, codename: str, groups: list[str]) -> migrations.RunPython:
    """Give staff groups a permission in a migration (and take it back when reversed).

    Django creates permissions after all migrations have run; the app's are created here first, so
    that a group can be given one its own migration introduces.
    """
    def forwards(apps, schema_editor) -> None:
        from django.contrib.auth.management import create_permissions

        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
        permission = _permission(apps, app_label, codename).get()
        for group in apps.get_model("auth", "Group").objects.filter(name__in=groups):
            group.permissions.add(permission)

    def backwards(apps, schema_editor) -> None:
        for permission in _permission(apps, app_label, codename):
            for group in apps.get_model("auth", "Group").objects.filter(name__in=groups):
                group.permissions.remove(permission)

    return migrations.RunPython(forwards, backwards)


def _permission(apps, app_label: str, codename: str):
    return apps.get_model("auth", "Permission").objects.filter(content_type__app_label=app_label, codename=codename)
