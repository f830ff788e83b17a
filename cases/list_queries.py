"""Reads behind the case list and the queue counts, shaped to stay index lookups at a million cases.

- Search: one box. An exact case number (with or without "RC-"), order number (with or without
  "#"), customer e-mail or e-mail domain ("proton.me" or "@proton.me") is looked up by index
  first; only when none matches does the search fall back to parts of a case number, e-mail or
  name (trigram indexes on PostgreSQL, plain ``LIKE`` on SQLite). What matched is said above the
  list.
- Counts: never an exact ``COUNT(*)`` over the whole table on a page view. Up to ``COUNT_CAP``
  rows are counted exactly; past that the planner's estimate is shown as "about N" (PostgreSQL).
  SQLite has no estimate to offer and counts exactly, as it always did.
- Pages: the ids of a page are read first (an index scan), then its 50 rows by primary key.

The query shapes and their indexes are recorded in docs/decisions/0013-case-list-query-shapes.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import CharField, F, Lookup, Q, QuerySet, Subquery, Value

from cases.models import NUMBER_ALPHABET, RefundCase
from orders.models import Customer, email_domain

COUNT_CAP = 1_000
PARTIAL_IDS_CAP = 10_000  # a part matching more cases than this is filtered by subquery instead
MIN_PART = 3  # shorter parts match too much to be worth a trigram lookup
CASE_CODE = f"[{NUMBER_ALPHABET}]"
EXACT_CASE_NUMBER = re.compile(rf"(?:RC-?)?({CASE_CODE}{{8}})")
CASE_NUMBER_PART = re.compile(rf"(?:RC-?)?({CASE_CODE}{{{MIN_PART},8}})")
ORDER_NUMBER = re.compile(r"#?\s*(\S{1,40})")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
DOMAIN = re.compile(r"@?([^@\s.]+(?:\.[^@\s.]+)+)")
DOMAIN_LABEL = "customer e-mail domain"


@dataclass(frozen=True)
class CaseSearch:
    """What a search term was taken for, and what it matched, for the note above the list."""

    term: str
    matched: tuple[str, ...]  # e.g. ("order number",): the exact lookups that found cases
    partial: tuple[str, ...] = ()  # the parts searched when nothing matched exactly

    @property
    def note(self) -> str:
        if self.matched:
            return f"Exact {_joined(self.matched)} “{self.term}”."
        if self.partial:
            return f"No exact case number, order number or e-mail “{self.term}”: showing cases whose {_joined(self.partial)} contains it."
        return f"No case number, order number or e-mail “{self.term}”, and too short to search for a part of one."


def _joined(words: tuple[str, ...]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _labelled(queryset: QuerySet[RefundCase], label: str) -> QuerySet:
    return queryset.order_by().annotate(matched=Value(label, output_field=CharField())).values_list("matched", "pk")


def exact_lookups(term: str) -> list[QuerySet]:
    """One query per kind of exact match the term could be, each served by a unique or b-tree index."""
    upper = term.upper()
    lookups = []
    if match := EXACT_CASE_NUMBER.fullmatch(upper):
        lookups.append(_labelled(RefundCase.objects.filter(number=f"RC-{match.group(1)}"), "case number"))
    if match := ORDER_NUMBER.fullmatch(term):
        number = match.group(1)
        numbers = sorted({number, number.upper()})
        lookups.append(_labelled(RefundCase.objects.filter(order__number__in=numbers), "order number"))
    if EMAIL.fullmatch(term):
        # iexact is UPPER(email) = UPPER(term): the customer_email_upper index.
        lookups.append(_labelled(RefundCase.objects.filter(order__customer__email__iexact=term), "customer e-mail"))
    if domain := _domain(term):
        # A domain has thousands of cases: one of them says that it matched; the list filters by
        # the domain itself (domain_cases).
        one = RefundCase.objects.filter(domain_cases(domain)).order_by().values("pk")[:1]
        lookups.append(_labelled(RefundCase.objects.filter(pk=Subquery(one)), DOMAIN_LABEL))
    return lookups


def _domain(term: str) -> str | None:
    match = DOMAIN.fullmatch(term)
    return match.group(1).upper() if match else None


def domain_cases(domain: str) -> Q:
    """Cases of the customers whose e-mail is at ``domain`` (upper case), by the customer_email_domain index.

    Filtered in the list's own query rather than by listed ids: the planner knows from the index's
    statistics how many customers a domain has, and walks the list's order index for a common
    domain (reading a page, not the 200,000 cases of "gmail.com"), or reads a rare one's few cases.
    """
    customers = Customer.objects.alias(domain=email_domain()).filter(domain=domain).values("pk")
    return Q(order__customer__in=customers)


def partial_lookups(term: str) -> tuple[list[QuerySet], tuple[str, ...]]:
    """Cases whose number, customer e-mail or name contains ``term`` (trigram indexes on PostgreSQL)."""
    lookups, labels = [], []
    if match := CASE_NUMBER_PART.fullmatch(term.upper()):
        lookups.append(RefundCase.objects.filter(number__contains=match.group(1)).order_by().values("pk"))
        labels.append("case number")
    if len(term) >= MIN_PART:
        customers = Customer.objects.filter(Q(email__icontains=term) | Q(name__icontains=term)).values("pk")
        lookups.append(RefundCase.objects.filter(order__customer__in=customers).order_by().values("pk"))
        labels.append("customer e-mail or name")
    return lookups, tuple(labels)


def search_cases(queryset: QuerySet[RefundCase], term: str) -> tuple[QuerySet[RefundCase], CaseSearch]:
    """``queryset`` narrowed to what ``term`` finds; one query to learn whether anything matched exactly."""
    term = term.strip()
    lookups = exact_lookups(term)
    if lookups:
        first, *rest = lookups
        hits = list(first.union(*rest, all=True)) if rest else list(first)
        if hits:
            labels = tuple(dict.fromkeys(label for label, _ in hits))
            ids = [pk for label, pk in hits if label != DOMAIN_LABEL]
            found = Q(pk__in=ids) if ids else Q()
            if DOMAIN_LABEL in labels:
                found |= domain_cases(_domain(term))
            return queryset.filter(found), CaseSearch(term, matched=labels)
    parts, labels = partial_lookups(term)
    if not parts:
        return queryset.none(), CaseSearch(term, matched=())
    first, *rest = parts
    ids = first.union(*rest) if rest else first
    # The ids are read first, by the trigram indexes, and the list filters by them: given the
    # subquery instead, PostgreSQL guesses the matches four times too many and scans every case
    # rather than look a few thousand up by primary key (405 ms against 38 ms at 1M cases).
    found = [row["pk"] for row in ids[: PARTIAL_IDS_CAP + 1]]
    if len(found) > PARTIAL_IDS_CAP:
        return queryset.filter(pk__in=ids), CaseSearch(term, matched=(), partial=labels)
    return queryset.filter(PkAmong(F("pk"), found)), CaseSearch(term, matched=(), partial=labels)


class PkAmong(Lookup):
    """``pk IN (...)`` for a long list of ids: one array parameter on PostgreSQL.

    Thousands of ``IN`` placeholders cost more to build, send and plan than the lookup itself does
    (the page asks three times: the count, the estimate and the page's ids).
    """

    lookup_name = "pk_among"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        ids = [int(pk) for pk in self.rhs]
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, ids]
        if not ids:
            return "0 = 1", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(ids))})", [*lhs_params, *ids]


# --- counting and paging ----------------------------------------------------------------------


def capped_count(queryset: QuerySet, cap: int = COUNT_CAP) -> int:
    """The exact count up to ``cap``; ``cap + 1`` means "more than cap"."""
    return queryset.order_by().values("pk")[: cap + 1].count()


def estimated_count(queryset: QuerySet) -> int | None:
    """The planner's row estimate for ``queryset`` (PostgreSQL), without running it; None elsewhere."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def shown_count(count: int, *, approximate: bool) -> str:
    """How a count is written: exact, "about 810,000" (an estimate) or "10,000+" (capped, no estimate)."""
    if not approximate:
        return f"{count:,}"
    if count > COUNT_CAP + 1:
        digits = max(len(str(count)) - 2, 0)
        return f"about {round(count, -digits):,}"
    return f"{COUNT_CAP:,}+"  # the estimate was lower than the rows already counted


class CaseListPaginator(Paginator):
    """Counts up to ``COUNT_CAP`` exactly, estimates beyond; reads a page's ids first, then its rows.

    An estimate can be a little off: a page past the real end is empty, not an error.
    """

    approximate = False

    @cached_property
    def count(self) -> int:
        if _among_listed_ids(self.object_list):
            return self.object_list.count()  # at most PARTIAL_IDS_CAP rows, each found by primary key
        exact = capped_count(self.object_list)
        if exact <= COUNT_CAP:
            return exact
        estimate = estimated_count(self.object_list)
        if estimate is None:
            return self.object_list.count()
        self.approximate = True
        return max(estimate, COUNT_CAP + 1)

    @property
    def shown_count(self) -> str:
        return shown_count(self.count, approximate=self.approximate)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        # Deferred join: the offset walks an index of ids only, never the joined rows.
        ids = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        return self._get_page(rows_by_pk(self.object_list, ids), number, self)


def _among_listed_ids(queryset: QuerySet) -> bool:
    return any(isinstance(child, PkAmong) for child in queryset.query.where.children)


def rows_by_pk(queryset: QuerySet, ids: list) -> list:
    """The rows of ``ids``, in that order, with ``queryset``'s related rows but not its filters.

    The filters and the search already chose these ids; asked again, a partial search would run its
    trigram lookups a second time for rows the primary key finds alone.
    """
    if not ids:
        return []
    rows = queryset.model._default_manager.filter(pk__in=ids)
    rows.query.select_related = queryset.query.select_related
    by_pk = {row.pk: row for row in rows}
    return [by_pk[pk] for pk in ids if pk in by_pk]


# --- the queues on the admin index ------------------------------------------------------------


@dataclass(frozen=True)
class QueueCount:
    count: int
    capped: bool

    def __str__(self) -> str:
        return f"{COUNT_CAP:,}+" if self.capped else f"{self.count:,}"

    def __gt__(self, other: int) -> bool:
        return self.count > other


def queue_count(queryset: QuerySet) -> QueueCount:
    """A queue's size for the index page: exact up to ``COUNT_CAP``, served by a partial index."""
    count = capped_count(queryset)
    return QueueCount(min(count, COUNT_CAP), capped=count > COUNT_CAP)
