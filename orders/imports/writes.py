"""Writing many rows at once without building a model instance per row.

``bulk_create`` spends most of a 100,000-order import compiling SQL: every value of every row goes
through the field's preparation and a placeholder of its own. Here the columns are prepared once
per field kind and the rows go to the database as plain tuples: ``COPY ... FROM STDIN`` on
PostgreSQL (psycopg 3's ``cursor.copy``), one ``executemany`` of a single-row ``INSERT`` on SQLite.
Updates are an ``executemany`` of a single-row ``UPDATE`` by primary key on both.

Values are prepared by the model fields themselves (``get_db_prep_save``) where the database needs
it (times, amounts), so the stored values are those ``bulk_create`` and ``save`` would store. Fields
not given are filled with their default, and ``auto_now_add`` fields with one time for the batch.
Nothing here sends signals or runs ``save()``, as ``bulk_create`` does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.utils import timezone

BATCH = 2000
# Fields whose Python value is not what the driver should receive on every backend.
_PREPARED = (models.DateTimeField, models.DateField, models.DecimalField, models.UUIDField, models.JSONField)


def _preparers(model: type[models.Model], names: Sequence[str]) -> list[Callable | None]:
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: the proxy costs a lookup per value
    preparers: list[Callable | None] = []
    for name in names:
        field = model._meta.get_field(name)
        if db.vendor == "postgresql" and isinstance(field, models.DateTimeField):
            preparers.append(None)  # Django's backend hands psycopg the (aware) time as it is, too
        elif isinstance(field, models.DecimalField):
            preparers.append(_memoised(field, db))  # a shop has a few prices: prepare each once
        elif isinstance(field, _PREPARED):
            preparers.append(partial(field.get_db_prep_save, connection=db))
        else:
            preparers.append(None)
    return preparers


def _memoised(field: models.Field, db) -> Callable:
    seen: dict = {}

    def prepare(value):
        try:
            return seen[value]
        except KeyError:
            seen[value] = prepared = field.get_db_prep_save(value, db)
            return prepared

    return prepare


def _prepared(rows: Iterable[Sequence], preparers: list[Callable | None]) -> Iterable[tuple]:
    active = [(i, prepare) for i, prepare in enumerate(preparers) if prepare is not None]
    for row in rows:
        if active:
            row = list(row)
            for i, prepare in active:
                if row[i] is not None:
                    row[i] = prepare(row[i])
        yield tuple(row)


def _defaults(model: type[models.Model], given: Sequence[str]) -> tuple[list[str], list]:
    """The concrete columns left out of ``given`` (but the primary key) and the value each gets."""
    now = timezone.now()
    names, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.attname in given or field.name in given:
            continue
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            value = now
        else:
            value = field.get_default()  # as a model instance would have it: "" for text, else None
        names.append(field.attname)
        values.append(value)
    return names, values


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence], *,
                orm: bool = False) -> int:
    """Insert ``rows`` (tuples in the order of ``columns``, attnames: ``plan_id``); return how many.

    ``orm``: through model instances and ``bulk_create`` instead, the plain path the fast one must
    match (the tests compare them); also what a database other than PostgreSQL or SQLite gets.
    """
    if orm or connection.vendor not in ("postgresql", "sqlite"):
        objects = [model(**dict(zip(columns, row))) for row in rows]
        model.objects.bulk_create(objects, batch_size=BATCH)
        return len(objects)
    extra_names, extra_values = _defaults(model, columns)
    names = [*columns, *extra_names]
    tail = tuple(extra_values)
    full = (tuple(row) + tail for row in rows)
    prepared = _prepared(full, _preparers(model, names))
    table = connection.ops.quote_name(model._meta.db_table)
    column_sql = ", ".join(connection.ops.quote_name(f.column) for f in _fields(model, names))
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ``copy`` is psycopg's own, past Django's cursor wrapper: its errors need wrapping to be
            # Django's (an IntegrityError the import can answer, not a psycopg exception).
            with connection.wrap_database_errors, cursor.copy(f"COPY {table} ({column_sql}) FROM STDIN") as copy:
                for row in prepared:
                    copy.write_row(row)
                    count += 1
            return count
        placeholders = ", ".join(["%s"] * len(names))
        sql = f"INSERT INTO {table} ({column_sql}) VALUES ({placeholders})"
        for batch in batches(prepared):
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def reserve_ids(model: type[models.Model], count: int) -> list[int] | None:
    """``count`` primary keys drawn from the table's sequence (PostgreSQL), to insert with the rows.

    Rows sent by COPY come back with nothing, and reading their keys back by another column right
    after the load is planned with the statistics of the table before it. None where there is no
    sequence to draw from (SQLite, or ``orm``): the caller reads the keys back.
    """
    if connection.vendor != "postgresql" or not count:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [model._meta.db_table, model._meta.pk.column, count])
        return [row[0] for row in cursor.fetchall()]


def update_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence], *,
                orm: bool = False) -> int:
    """Set ``columns`` on each row's primary key; each row is ``(pk, value, value, ...)``."""
    if orm or connection.vendor not in ("postgresql", "sqlite"):
        objects = [model(pk=row[0], **dict(zip(columns, row[1:]))) for row in rows]
        model.objects.bulk_update(objects, list(columns), batch_size=BATCH)
        return len(objects)
    preparers = [None, *_preparers(model, columns)]
    table = connection.ops.quote_name(model._meta.db_table)
    assignments = ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in _fields(model, columns))
    pk = connection.ops.quote_name(model._meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"
    count = 0
    with connection.cursor() as cursor:
        for batch in batches(_prepared(rows, preparers)):
            cursor.executemany(sql, [(*row[1:], row[0]) for row in batch])
            count += len(batch)
    return count


def _fields(model: type[models.Model], names: Sequence[str]) -> list[models.Field]:
    return [model._meta.get_field(name) for name in names]  # an attname (plan_id) finds its field too


def batches(rows: Iterable, size: int = BATCH) -> Iterable[list]:
    """``rows`` in lists of up to ``size`` (a statement's worth of rows or lookups)."""
    batch: list = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
