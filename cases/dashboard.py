"""Reads for the managers' dashboard on the admin index: where refunds stand, in a dozen queries.

Every figure comes with the case-list link that lists exactly the cases it counts (the list's own
filters plus plain field lookups, which the admin accepts on the case's own columns). Weekly series
cover the last ``WEEKS`` weeks, Monday to Monday in the site's time zone, so each query reads a
bounded slice of an index whatever the size of the table.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Q, Sum
from django.db.models.functions import TruncWeek
from django.urls import reverse
from django.utils import timezone

from cases.models import Payout, RefundCase
from cases.states import CLOSED_STATES, OPEN_STATES, State
from orders.models import Storefront
from policies.engine import CENT, REASON_LABELS

WEEKS = 12
CLOSED = ",".join(CLOSED_STATES)


@dataclass(frozen=True)
class Figure:
    value: int | Decimal | float | None
    url: str


@dataclass
class Series:
    """One weekly line: a figure per week (0 where nothing happened)."""

    label: str
    figures: list[Figure]

    @property
    def values(self) -> list:
        return [f.value for f in self.figures]


@dataclass
class Dashboard:
    weeks: list[datetime]
    states: list[tuple[str, str]]
    # (storefront, a figure per open state, all open, overdue)
    open_by_storefront: list[tuple[str, list[Figure], Figure, Figure]] = field(default_factory=list)
    open_totals: list[Figure] = field(default_factory=list)
    opened: Series | None = None
    closed: Series | None = None
    approved: list[Series] = field(default_factory=list)  # one per currency: amounts
    paid: list[Series] = field(default_factory=list)  # one per currency: amounts
    refund_rate: list[tuple[str, Figure, Figure, float | None]] = field(default_factory=list)
    median_hours: Series | None = None
    statutory: Series | None = None

    @property
    def flow_rows(self) -> list[tuple[datetime, Figure, Figure, Figure, Figure]]:
        return list(zip(self.weeks, self.opened.figures, self.closed.figures, self.median_hours.figures,
                        self.statutory.figures))

    @property
    def money_rows(self) -> list[tuple[datetime, list[Figure]]]:
        columns = self.approved + self.paid
        return [(week, [s.figures[i] for s in columns]) for i, week in enumerate(self.weeks)]

    @property
    def week_labels(self) -> list[str]:
        return [f"{w:%d %b}" for w in self.weeks]

    def chart_data(self) -> dict:
        """What the charts draw, for ``json_script``: the same numbers the tables show."""
        def plain(values):
            return [None if v is None else float(v) for v in values]

        return {
            "weeks": self.week_labels,
            "states": [label for _, label in self.states],
            "open": [{"label": name, "data": plain(f.value for f in figures)}
                     for name, figures, _, _ in self.open_by_storefront],
            "opened": plain(self.opened.values),
            "closed": plain(self.closed.values),
            "approved": [{"label": s.label, "data": plain(s.values)} for s in self.approved],
            "paid": [{"label": s.label, "data": plain(s.values)} for s in self.paid],
            "reasons": [label for label, *_ in self.refund_rate],
            "refund_rate": [None if rate is None else round(rate * 100, 1) for *_, rate in self.refund_rate],
            "median_hours": plain(self.median_hours.values),
            "statutory": plain(self.statutory.values),
        }


def week_starts(now: datetime, weeks: int = WEEKS) -> list[datetime]:
    local = timezone.localtime(now)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def _moment(value: datetime) -> str:
    return value.isoformat()


class Links:
    def __init__(self, site_name: str) -> None:
        self.base = reverse(f"{site_name}:cases_refundcase_changelist")

    def cases(self, **params) -> str:
        return f"{self.base}?{urlencode(params)}"

    def period(self, field_name: str, start: datetime, end: datetime, **params) -> str:
        return self.cases(**params, **{f"{field_name}__gte": _moment(start), f"{field_name}__lt": _moment(end)})


def _by_week(rows, key: str, weeks: list[datetime]) -> dict[datetime, object]:
    found = {}
    for row in rows:
        found[timezone.localtime(row["week"]) if timezone.is_aware(row["week"]) else row["week"]] = row[key]
    return found


def _series(label: str, found: dict, weeks: list[datetime], url, zero=0) -> Series:
    ends = weeks[1:] + [weeks[-1] + timedelta(weeks=1)]
    return Series(label, [Figure(found.get(w, zero), url(w, e)) for w, e in zip(weeks, ends)])


def build_dashboard(*, now: datetime | None = None, site_name: str = "admin") -> Dashboard:
    now = now or timezone.now()
    weeks = week_starts(now)
    start, end = weeks[0], weeks[-1] + timedelta(weeks=1)
    links = Links(site_name)
    board = Dashboard(weeks=weeks, states=[(s, State(s).label) for s in OPEN_STATES])

    storefronts = list(Storefront.objects.order_by("name").values_list("pk", "name"))
    _open_cases(board, storefronts, links, now=now)

    cases = RefundCase.objects.all()
    opened = cases.filter(requested_at__gte=start, requested_at__lt=end)
    board.opened = _series(
        "Opened", _by_week(opened.annotate(week=TruncWeek("requested_at")).values("week").annotate(n=Count("id")),
                           "n", weeks),
        weeks, lambda w, e: links.period("requested_at", w, e, state="all"),
    )
    closed = cases.filter(state__in=CLOSED_STATES, decided_at__gte=start, decided_at__lt=end)
    board.closed = _series(
        "Closed", _by_week(closed.annotate(week=TruncWeek("decided_at")).values("week").annotate(n=Count("id")),
                           "n", weeks),
        weeks, lambda w, e: links.period("decided_at", w, e, state="all", state__in=CLOSED),
    )
    board.approved = _money_series(
        cases.filter(approved_at__gte=start, approved_at__lt=end, approval_cancelled_at__isnull=True)
        .annotate(week=TruncWeek("approved_at"), currency=F("order__currency"))
        .values("week", "currency").annotate(total=Sum("approved_amount")),
        weeks, lambda w, e: links.period("approved_at", w, e, state="all", approval_cancelled_at__isnull="True"),
    )
    # A payout's moment is its case's last decision: the same instant, written by the same action.
    board.paid = _money_series(
        Payout.objects.filter(paid_at__gte=start, paid_at__lt=end)
        .annotate(week=TruncWeek("paid_at")).values("week", "currency").annotate(total=Sum("amount")),
        weeks, lambda w, e: links.period("decided_at", w, e, state=State.PAID),
    )
    board.refund_rate = _refund_rate(closed, links, start, end)
    board.median_hours = _series(
        "Median hours to decision", _median_hours(closed), weeks,
        lambda w, e: links.period("decided_at", w, e, state="all", state__in=CLOSED), zero=None,
    )
    statutory = cases.filter(approved_at__gte=start, approved_at__lt=end, statutory_override=True)
    board.statutory = _series(
        "Statutory overrides",
        _by_week(statutory.annotate(week=TruncWeek("approved_at")).values("week").annotate(n=Count("id")), "n", weeks),
        weeks, lambda w, e: links.period("approved_at", w, e, state="all", statutory_override__exact="1"),
    )
    return board


def _open_cases(board: Dashboard, storefronts, links: Links, *, now: datetime) -> None:
    rows = (
        RefundCase.objects.filter(state__in=OPEN_STATES)
        .values("order__storefront_id", "state")
        .annotate(n=Count("id"), overdue=Count("id", filter=Q(next_deadline__lt=now)))
    )
    counts: dict[tuple[int, str], int] = {}
    overdue: dict[int, int] = {}
    for row in rows:
        counts[(row["order__storefront_id"], row["state"])] = row["n"]
        overdue[row["order__storefront_id"]] = overdue.get(row["order__storefront_id"], 0) + row["overdue"]
    for pk, name in storefronts:
        figures = [
            Figure(counts.get((pk, state), 0), links.cases(state=state, order__storefront__id__exact=pk))
            for state, _ in board.states
        ]
        total = Figure(sum(f.value for f in figures), links.cases(state="open", order__storefront__id__exact=pk))
        late = Figure(
            overdue.get(pk, 0),
            links.cases(state="open", order__storefront__id__exact=pk, next_deadline__lt=_moment(now)),
        )
        board.open_by_storefront.append((name, figures, total, late))
    board.open_totals = [
        Figure(sum(counts.get((pk, state), 0) for pk, _ in storefronts), links.cases(state=state))
        for state, _ in board.states
    ]


def _money_series(rows, weeks: list[datetime], url) -> list[Series]:
    by_currency: dict[str, dict[datetime, Decimal]] = {}
    for row in rows:
        week = timezone.localtime(row["week"]) if timezone.is_aware(row["week"]) else row["week"]
        # SQLite sums decimals as floats; the money columns hold cents.
        by_currency.setdefault(row["currency"], {})[week] = Decimal(row["total"]).quantize(CENT)
    return [
        _series(currency, found, weeks, url, zero=Decimal("0.00"))
        for currency, found in sorted(by_currency.items())
    ]


def _refund_rate(closed, links: Links, start: datetime, end: datetime) -> list:
    rows = closed.values("reason").annotate(n=Count("id"), paid=Count("id", filter=Q(state=State.PAID)))
    found = {row["reason"]: row for row in rows}
    result = []
    for code, label in REASON_LABELS.items():
        row = found.get(code)
        if row is None:
            continue
        n, paid = row["n"], row["paid"]
        result.append((
            label,
            Figure(paid, links.period("decided_at", start, end, state=State.PAID, reason__exact=code)),
            Figure(n, links.period("decided_at", start, end, state="all", state__in=CLOSED, reason__exact=code)),
            paid / n if n else None,
        ))
    return result


def _median_hours(closed) -> dict[datetime, float]:
    """Median hours from request to the closing decision, per week of closing."""
    if connection.vendor == "postgresql":
        rows = closed.annotate(week=TruncWeek("decided_at")).values("week").annotate(
            seconds=MedianSeconds(F("decided_at") - F("requested_at"))
        )
        return {timezone.localtime(r["week"]): round(r["seconds"] / 3600, 1) for r in rows if r["seconds"] is not None}
    spans: dict[datetime, list[float]] = {}
    for week, decided, requested in (
        closed.annotate(week=TruncWeek("decided_at")).values_list("week", "decided_at", "requested_at").iterator()
    ):
        spans.setdefault(timezone.localtime(week), []).append((decided - requested).total_seconds() / 3600)
    return {week: round(statistics.median(values), 1) for week, values in spans.items()}


class MedianSeconds(Aggregate):
    """PostgreSQL's exact median of a duration, in seconds (SQLite has no ordered-set aggregates)."""

    function = "percentile_cont"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM (%(expressions)s)))"
    output_field = FloatField()
