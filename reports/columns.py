"""The case report's columns, declared once: header, SQL expression and kind of each.

The case row carries its storefront, currency, first staff answer and missed fix window (kept in
step by the services, docs/decisions/0027): no subquery on the events per row.
Every value is formatted by the database (times as ISO 8601 UTC text, amounts as text with two
decimals), so a million rows are never parsed into datetimes or Decimals only to be printed again.
The Resource (``reports.resources``), the streaming writers and the tests all read this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Expression,
    F,
    Func,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.utils import timezone

from cases.models import RefundCase
from cases.states import State

# Kinds say how a value is written: text (escaped against formula injection in CSV and XLSX), a
# count, an amount, a number of days, a boolean, a time, or the list of clauses.
TEXT, COUNT, MONEY, DAYS, BOOL, TIME, CLAUSES = "text", "count", "money", "days", "bool", "time", "clauses"


class IsoUtc(Func):
    """A timestamp as ``2026-01-31T10:00:00Z`` (UTC, whole seconds), or NULL."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        # Django stores UTC text on SQLite; "%%%%" survives both the template and the driver.
        return self.as_sql(compiler, connection, template="strftime('%%%%Y-%%%%m-%%%%dT%%%%H:%%%%M:%%%%SZ', %(expressions)s)")

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="""to_char((%(expressions)s) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
        )


class MoneyText(Func):
    """An amount as text with exactly two decimals, or NULL."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection,
            template="CASE WHEN %(expressions)s IS NULL THEN NULL ELSE printf('%%%%.2f', %(expressions)s) END",
        )

    def as_postgresql(self, compiler, connection, **extra):
        # numeric(12, 2) prints with its scale: 59.99, 60.00.
        return self.as_sql(compiler, connection, template="(%(expressions)s)::text")


class DaysBetween(Func):
    """Days from the first timestamp to the second, with one decimal, as text; NULL if either is."""

    output_field = CharField()
    arity = 2

    def _parts(self, compiler):
        (start_sql, start_params), (end_sql, end_params) = (compiler.compile(e) for e in self.source_expressions)
        # Each fragment below reads the end before the start: the parameters follow that order.
        return start_sql, end_sql, (*end_params, *start_params)

    def as_sqlite(self, compiler, connection, **extra):
        start, end, params = self._parts(compiler)
        # printf() turns NULL into 0.0: the CASE keeps unknown unknown.
        sql = (f"CASE WHEN julianday({end}) - julianday({start}) IS NULL THEN NULL "
               f"ELSE printf('%%.1f', julianday({end}) - julianday({start})) END")
        return sql, (*params, *params)

    def as_postgresql(self, compiler, connection, **extra):
        start, end, params = self._parts(compiler)
        return f"round((extract(epoch from ({end}) - ({start})) / 86400)::numeric, 1)::text", params


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    expression: Expression | F | str

    @property
    def alias(self) -> str:
        return f"report_{self.name}"


def decided_at() -> Case:
    """When the case was decided: its approval for approved and paid cases, the closing transition
    for denied and resolved ones; empty while undecided and for withdrawn cases."""
    return Case(
        When(state__in=[State.APPROVED, State.PAID], then=F("approved_at")),
        When(state__in=[State.DENIED, State.RESOLVED], then=F("decided_at")),
        default=None,
    )


def deadline_met(now: datetime) -> Case:
    """The team's deadline is the fix window (S0-FIX-48H): met when the fix was settled in time,
    missed when the window ran out (or is past and still pending), unknown without a fix attempt."""
    return Case(
        When(fix_deadline__isnull=True, then=None),
        When(fix_window_missed=True, then=Value(False)),
        When(fix_outcome="pending", fix_deadline__lt=now, then=Value(False)),
        When(fix_outcome="pending", then=None),
        default=Value(True),
        output_field=BooleanField(null=True),
    )


def columns(now: datetime | None = None) -> list[Column]:
    now = now or timezone.now()
    return [
        Column("case_number", TEXT, F("number")),
        Column("storefront", TEXT, F("storefront__slug")),
        Column("order_number", TEXT, F("order__number")),
        Column("customer_email", TEXT, F("order__customer__email")),
        Column("plan_months", COUNT, F("order__plan__months")),
        Column("devices", COUNT, F("order__plan__devices")),
        Column("amount_paid", MONEY, MoneyText("order__amount")),
        Column("currency", TEXT, F("currency")),
        Column("reason", TEXT, F("reason")),
        Column("channel", TEXT, F("channel")),
        Column("state", TEXT, F("state")),
        Column("requested_at", TIME, IsoUtc("requested_at")),
        Column("first_response_at", TIME, IsoUtc("first_response_at")),
        Column("decided_at", TIME, IsoUtc(decided_at())),
        Column("outcome", TEXT, KT("decision__outcome")),
        Column("clauses", CLAUSES, KT("decision__clauses")),
        Column("policy_version", TEXT, KT("decision__policy_version")),
        Column("approved_amount", MONEY, MoneyText("approved_amount")),
        Column("paid_amount", MONEY, MoneyText("payout__amount")),
        Column("paid_at", TIME, IsoUtc("payout__paid_at")),
        Column("payout_method", TEXT, F("payout__method")),
        Column("days_to_decision", DAYS, DaysBetween("requested_at", decided_at())),
        Column("deadline_met", BOOL, deadline_met(now)),
        Column("assignee", TEXT, F("assignee__username")),
        Column("statutory_override", BOOL, F("statutory_override")),
    ]


HEADERS: list[str] = [column.name for column in columns(timezone.now())]


def report_rows(queryset: QuerySet[RefundCase], *, now: datetime | None = None) -> QuerySet:
    """The report's raw rows (tuples in column order) for ``queryset``, oldest case first.

    Filters and search of the queryset are kept; its select_related and ordering are not needed.
    """
    cols = columns(now)
    annotated = queryset.select_related(None).order_by().annotate(**{c.alias: c.expression for c in cols})
    return annotated.order_by("pk").values_list(*(c.alias for c in cols))


def report_instances(queryset: QuerySet[RefundCase], *, now: datetime | None = None) -> QuerySet[RefundCase]:
    """The same values as attributes on case instances: what the Resource's fields read."""
    cols = columns(now)
    return queryset.select_related(None).order_by("pk").annotate(**{c.alias: c.expression for c in cols})
