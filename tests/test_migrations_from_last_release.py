"""Upgrading a database of the last release keeps every row (PostgreSQL).

The test database goes back to the last release's migrations, gets rows in every one of its tables
(through the models as they were then), and goes forward again to the latest migrations. Every
table must still be there with every row unchanged (columns may be added), still read by a model of
the latest state; a model moved to another app (in state only, its table kept) takes its
content type along, with the permissions on it and the groups holding them.

Nothing here names a model: the tables and models are those the migrations describe, so the next
migrations are covered as they land. At each release, ``LAST_RELEASE`` moves on to its leaves.

PostgreSQL only (the ``postgres`` mark skips it on SQLite): production upgrades PostgreSQL, whose
migrations differ (the event log's trigger, trigram indexes), and the rows are compared through its
casts to text.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps as installed_apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connection, models
from django.db.migrations.executor import MigrationExecutor

# The leaves of our apps' migrations in the last release; our apps not named here did not exist.
LAST_RELEASE = {
    "cases": "0027_staff_read_intake_failures",
    "orders": "0009_paypal_label",
    "policies": "0004_texts_as_templates",
    "reports": "0002_reports_manager_view",
}

# Columns a migration drops on purpose, by table: their values are not compared.
DROPPED_ON_PURPOSE: dict[str, set[str]] = {}
# Columns renamed since, by table: {old name: new name}; their values must come through unchanged.
RENAMED: dict[str, dict[str, str]] = {
    # The export job took the job base's names (reports/0004).
    "reports_exportjob": {"done": "processed", "user_id": "requested_by_id"},
}

# Values the generic filler cannot guess, by table (tables keep their names when models move).
SPECIAL_VALUES: dict[str, dict[str, object]] = {
    # Returned money stays within what was paid and not refunded (order_returned_within_amount).
    "orders_order": {"charged_back_amount": Decimal("0")},
}

OUR_APPS = {config.label for config in installed_apps.get_app_configs() if Path(config.path).parent == settings.BASE_DIR}

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


Key = tuple[str, str]  # (app label, model name), as content types name a model


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_keeps_every_row_of_the_last_release_through_the_migrations_since():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    release = release_targets(executor)
    try:
        executor.migrate(release)
        executor.loader.build_graph()
        old_apps = executor.loader.project_state([node for node in release if node[1]]).apps

        Filler(old_apps).fill()
        grant_every_permission_of_ours(old_apps)
        empty = [table for table in tables_of(old_apps, labels=OUR_APPS) if count(table) == 0]
        assert not empty, f"the filler left tables of our apps empty: {empty}"

        before = snapshot()
        types_before = content_types()
        links_before = group_permissions()

        executor.migrate(latest)
        executor.loader.build_graph()
        new_apps = executor.loader.project_state(latest).apps

        moved = moved_models(old_apps, new_apps)
        problems = [
            *lost_tables_and_rows(before, snapshot(), moved=moved),
            *orphaned_tables(old_apps, new_apps),
            *unreadable_models(new_apps),
            *content_types_left_behind(types_before, content_types(), moved=moved),
            *lost_permissions(links_before, group_permissions(), moved=moved),
        ]
        assert not problems, "the upgrade from the last release loses data:\n" + "\n".join(problems)
        held = {(app, model) for _, app, model, _, _ in links_before}
        unheld = sorted(key for key in moved if key not in held)
        assert not unheld, f"no group held a permission on these moved models, so nothing checked them: {unheld}"
    finally:
        # The other tests run at the latest state; pytest-django empties the tables after this one.
        MigrationExecutor(connection).migrate(latest)
        ContentType.objects.clear_cache()


# --- migration states -------------------------------------------------------------------------


def release_targets(executor: MigrationExecutor) -> list[tuple[str, str | None]]:
    """Our apps at the release's leaves (or none), other apps as they are now."""
    leaves = dict(executor.loader.graph.leaf_nodes())
    targets: list[tuple[str, str | None]] = []
    for app in sorted(executor.loader.migrated_apps):
        if app in LAST_RELEASE:
            targets.append((app, LAST_RELEASE[app]))
        elif app in OUR_APPS:
            targets.append((app, None))
        else:
            targets.append((app, leaves[app]))
    return targets


def table_models(apps) -> dict[str, type[models.Model]]:
    """Each table of a migration state and the model (auto-created many-to-many ones too) it holds."""
    return {
        model._meta.db_table: model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


def tables_of(apps, *, labels: Iterable[str]) -> list[str]:
    return sorted(table for table, model in table_models(apps).items() if model._meta.app_label in labels)


def moved_models(old_apps, new_apps) -> dict[Key, Key]:
    """Models whose table another app's model holds now: old (app, model) to new."""
    new = table_models(new_apps)
    moved = {}
    for table, model in table_models(old_apps).items():
        if table in new and not model._meta.auto_created:
            old_key = (model._meta.app_label, model._meta.model_name)
            new_key = (new[table]._meta.app_label, new[table]._meta.model_name)
            if old_key != new_key:
                moved[old_key] = new_key
    return moved


# --- filling the release's tables -------------------------------------------------------------


class Filler:
    """Creates a valid row in each model of a migration state, models referred to first.

    Every column gets a value (nullable ones too, and booleans are true), so a column that a
    migration loses or rewrites shows. Foreign keys point at the rows made just before.
    """

    def __init__(self, apps) -> None:
        self.models = list(table_models(apps).values())
        self.made: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        self.serial = 0

    def fill(self) -> None:
        for model in in_dependency_order(self.models):
            self.make(model)

    def make(self, model: type[models.Model]) -> models.Model:
        self.serial += 1
        values = {}
        for position, field in enumerate(model._meta.concrete_fields):
            if isinstance(field, models.AutoField | models.BigAutoField | models.SmallAutoField):
                continue
            if field.is_relation:
                values[field.attname] = self.target(model, field)
            else:
                values[field.attname] = self.value(field, position)
        values.update(SPECIAL_VALUES.get(model._meta.db_table, {}))
        row = model(**values)
        row.save(force_insert=True)
        self.made[model].append(row)
        return row

    def target(self, model: type[models.Model], field: models.ForeignKey) -> object:
        related = field.related_model
        if related is model:
            return None if field.null else self.existing(field)
        if field.unique:  # one-to-one: a row of its own
            row = self.make(related)
        elif self.made[related]:
            row = self.made[related][-1]
        else:  # the other side of a cycle, not made yet
            return None if field.null else self.existing(field)
        return getattr(row, field.target_field.attname)

    @staticmethod
    def existing(field: models.ForeignKey) -> object:
        value = field.related_model._base_manager.values_list(field.target_field.attname, flat=True).first()
        assert value is not None, f"{field} needs a row of {field.related_model.__name__}: add it to SPECIAL_VALUES"
        return value

    def value(self, field: models.Field, position: int) -> object:
        n = self.serial
        if field.choices:
            return field.flatchoices[0][0]
        if isinstance(field, models.BooleanField):
            return True
        if isinstance(field, models.DateTimeField):
            # Later columns get later times: ends come after starts, expiries after creations.
            return START + timedelta(days=n, minutes=position)
        if isinstance(field, models.DateField):
            return START.date() + timedelta(days=n)
        if isinstance(field, models.TimeField):
            return time(9, position % 60)
        if isinstance(field, models.DurationField):
            return timedelta(minutes=n)
        if isinstance(field, models.DecimalField):
            return Decimal(n).quantize(Decimal(1).scaleb(-field.decimal_places))
        if isinstance(field, models.IntegerField):
            return n
        if isinstance(field, models.FloatField):
            return n + 0.5
        if isinstance(field, models.UUIDField):
            return uuid.UUID(int=n)
        if isinstance(field, models.JSONField):
            return {"row": n, "column": field.name}
        if isinstance(field, models.BinaryField):
            return f"bytes {n}".encode()
        if isinstance(field, models.GenericIPAddressField):
            return f"192.0.2.{n % 250 + 1}"
        if isinstance(field, models.EmailField):
            return f"row{n}@example.com"
        if isinstance(field, models.URLField):
            return f"https://example.com/{n}"
        if isinstance(field, models.FileField):
            return f"migration-check/{field.name}-{n}.txt"
        if isinstance(field, models.CharField | models.TextField):
            suffix = f"-{n}"
            width = field.max_length or 40
            return field.name[: max(width - len(suffix), 0)] + suffix[-width:]
        raise AssertionError(f"the filler has no value for {field.__class__.__name__} ({field}): add one")


def in_dependency_order(models_to_fill: list[type[models.Model]]) -> list[type[models.Model]]:
    """Models after those they refer to; in a cycle, the model whose links may be empty goes first."""

    def links(model):
        return [field for field in model._meta.concrete_fields
                if field.is_relation and field.related_model is not model]

    pending = {model: links(model) for model in models_to_fill}
    order = []
    while pending:
        ready = [model for model, fields in pending.items()
                 if not any(field.related_model in pending for field in fields)]
        if not ready:
            ready = [model for model, fields in pending.items()
                     if all(field.null for field in fields if field.related_model in pending)][:1]
            assert ready, f"a cycle of required links between {sorted(m.__name__ for m in pending)}"
        for model in sorted(ready, key=lambda m: m._meta.label):
            order.append(model)
            del pending[model]
    return order


def grant_every_permission_of_ours(apps) -> None:
    """Groups and users hold the permissions of every model of ours, which must follow moved models."""
    Group = apps.get_model("auth", "Group")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=OUR_APPS)
    group = Group.objects.create(name="Everything of ours")
    group.permissions.add(*ours)
    user = User.objects.order_by("-pk").first()
    user.user_permissions.add(*ours)
    user.groups.add(group)


# --- what the database holds ------------------------------------------------------------------


Snapshot = dict[str, tuple[list[str], Counter]]


def snapshot() -> Snapshot:
    """Each table's columns and rows (values as text, whatever their types become)."""
    with connection.cursor() as cursor:
        tables = [t for t in connection.introspection.table_names(cursor, include_views=False)
                  if t != "django_migrations"]
        return {table: (columns := column_names(cursor, table), rows(cursor, table, columns)) for table in tables}


def column_names(cursor, table: str) -> list[str]:
    return [column.name for column in connection.introspection.get_table_description(cursor, table)]


def rows(cursor, table: str, columns: list[str]) -> Counter:
    qn = connection.ops.quote_name
    cursor.execute(f"SELECT {', '.join(f'{qn(c)}::text' for c in columns)} FROM {qn(table)}")
    return Counter(cursor.fetchall())


def count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def content_types() -> dict[int, Key]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, app_label, model FROM django_content_type")
        return {pk: (app, model) for pk, app, model in cursor.fetchall()}


def group_permissions() -> set[tuple[int, str, str, str, int]]:
    """(group, app label, model, codename, permission id) of every permission a group holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gp.group_id, ct.app_label, ct.model, p.codename, p.id FROM auth_group_permissions gp "
            "JOIN auth_permission p ON p.id = gp.permission_id JOIN django_content_type ct ON ct.id = p.content_type_id"
        )
        return set(cursor.fetchall())


# --- checks ---------------------------------------------------------------------------------


def lost_tables_and_rows(before: Snapshot, after: Snapshot, *, moved: dict[Key, Key]) -> list[str]:
    problems = []
    for table, (columns, old_rows) in sorted(before.items()):
        if table not in after:
            problems.append(f"table {table} is gone ({sum(old_rows.values())} rows)")
            continue
        dropped = DROPPED_ON_PURPOSE.get(table, set())
        renamed = RENAMED.get(table, {})
        kept = [c for c in columns if c not in dropped]
        missing_columns = {renamed.get(c, c) for c in kept} - set(after[table][0])
        if missing_columns:
            problems.append(f"{table} lost columns {sorted(missing_columns)}")
            continue
        expected = Counter(tuple(row[columns.index(c)] for c in kept) for row in old_rows.elements())
        if table == "django_content_type":
            expected = Counter(relabelled(row, kept, moved) for row in expected.elements())
        with connection.cursor() as cursor:
            now = rows(cursor, table, [renamed.get(c, c) for c in kept])
        lost = expected - now
        if lost:
            sample = "; ".join(str(dict(zip(kept, row, strict=True))) for row in list(lost)[:3])
            problems.append(f"{table}: {sum(lost.values())} rows changed or gone, e.g. {sample}")
    return problems


def relabelled(row: tuple, columns: list[str], moved: dict[Key, Key]) -> tuple:
    at_app, at_model = columns.index("app_label"), columns.index("model")
    new = moved.get((row[at_app], row[at_model]))
    if new is None:
        return row
    row = list(row)
    row[at_app], row[at_model] = new
    return tuple(row)


def orphaned_tables(old_apps, new_apps) -> list[str]:
    """Tables that held a model's rows and that no model reads any more."""
    new = table_models(new_apps)
    return [f"no model holds {table} any more (it held {model._meta.label}): its rows are out of reach"
            for table, model in sorted(table_models(old_apps).items()) if table not in new]


def unreadable_models(new_apps) -> list[str]:
    """Every model of the latest state reads its rows: its table and columns are the ones it expects."""
    problems = []
    for table, model in sorted(table_models(new_apps).items()):
        try:
            list(model._base_manager.all())
        except DatabaseError as error:
            problems.append(f"{model._meta.label} cannot read {table}: {str(error).strip().splitlines()[0]}")
    return problems


def content_types_left_behind(before: dict[int, Key], after: dict[int, Key], *, moved: dict[Key, Key]) -> list[str]:
    """A moved model's content type row (and so what points at it) now names the model where it is."""
    problems = []
    for pk, key in sorted(before.items()):
        if key in moved and after.get(pk) != moved[key]:
            now = ".".join(after[pk]) if pk in after else "nothing (deleted)"
            problems.append(f"content type {pk} of {'.'.join(key)} should name {'.'.join(moved[key])}, names {now}")
    return problems


def lost_permissions(before: set, after: set, *, moved: dict[Key, Key]) -> list[str]:
    """A group holding a permission on a model holds the same permission row on it after the move."""
    problems = []
    for group, app, model, codename, permission in sorted(before):
        new_app, new_model = moved.get((app, model), (app, model))
        if (group, new_app, new_model, codename, permission) not in after:
            problems.append(f"group {group} held {app}.{codename} (permission {permission}) "
                            f"and no longer holds it as {new_app}.{codename}")
    return problems
