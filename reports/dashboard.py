"""Reads for the managers' dashboard on the admin index: where refunds stand, in eight queries.

Every figure comes with the case-list link that lists exactly the cases it counts (the list's own
filters plus plain field lookups, which the admin accepts on the case's own columns). Weekly series
cover the last ``WEEKS`` weeks, Monday to Monday in the site's time zone, so each query reads a
bounded slice of an index whatever the size of the table.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, IntegerField, Q, Sum, Value
from django.urls import reverse
from django.utils import timezone

from cases.models import Payout, RefundCase
from cases.states import CLOSED_STATES, OPEN_STATES, State
from orders.models import Storefront
from rules.engine import CENT, REASON_LABELS

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
    open_totals: list[Figure] = field(default_factory=list)  # a figure per open state, all storefronts
    open_total: Figure | None = None
    overdue_total: Figure | None = None
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


def _week_ends(weeks: list[datetime]) -> list[datetime]:
    return weeks[1:] + [weeks[-1] + timedelta(weeks=1)]


def per_week(queryset, field_name: str, weeks: list[datetime], *group: str, **aggregates) -> list[dict]:
    """``aggregates`` of each week (and of ``group``), a row each with the week's number (0 the oldest).

    One query, a part per week (UNION ALL): each reads one bounded range of the index on ``field_name``
    and aggregates it whole, instead of working out the week of every row and grouping on it (a
    sort or hash of hundreds of thousands of rows at a million cases). The week starts come from
    Python, Monday to Monday in the site's time zone, across a change of daylight saving time too.
    """
    parts = [
        queryset.filter(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
        .values(*group, week=Value(i, IntegerField())).annotate(**aggregates)
        for i, (start, end) in enumerate(zip(weeks, _week_ends(weeks)))
    ]
    return list(parts[0].union(*parts[1:], all=True))


def _series(label: str, found: dict, weeks: list[datetime], url, zero=0) -> Series:
    return Series(label, [Figure(found.get(i, zero), url(w, e)) for i, (w, e) in enumerate(zip(weeks, _week_ends(weeks)))])


def build_dashboard(*, now: datetime | None = None, site_name: str = "admin") -> Dashboard:
    now = now or timezone.now()
    weeks = week_starts(now)
    start, end = weeks[0], weeks[-1] + timedelta(weeks=1)
    links = Links(site_name)
    board = Dashboard(weeks=weeks, states=[(s, State(s).label) for s in OPEN_STATES])

    storefronts = list(Storefront.objects.order_by("name").values_list("pk", "name"))
    _open_cases(board, storefronts, links, now=now)

    # Each query counts ``*`` and reads only columns of the index its filter matches, so PostgreSQL
    # answers it from that index alone (docs/decisions/0027).
    cases = RefundCase.objects.order_by()
    board.opened = _series(
        "Opened", _counts(per_week(cases, "requested_at", weeks, n=Count("*"))), weeks,
        lambda w, e: links.period("requested_at", w, e, state="all"),
    )
    closed = cases.filter(state__in=CLOSED_STATES)
    closed_rows = per_week(closed, "decided_at", weeks, n=Count("*"), **_median_aggregate())
    board.closed = _series(
        "Closed", _counts(closed_rows), weeks,
        lambda w, e: links.period("decided_at", w, e, state="all", state__in=CLOSED),
    )
    board.median_hours = _series(
        "Median hours to decision", _median_hours(closed_rows, closed, weeks), weeks,
        lambda w, e: links.period("decided_at", w, e, state="all", state__in=CLOSED), zero=None,
    )
    board.approved = _money_series(
        per_week(cases.filter(approval_cancelled_at__isnull=True), "approved_at", weeks, "currency",
                 total=Sum("approved_amount")),
        weeks, lambda w, e: links.period("approved_at", w, e, state="all", approval_cancelled_at__isnull="True"),
    )
    # A payout's moment is its case's last decision: the same instant, written by the same action.
    board.paid = _money_series(
        per_week(Payout.objects.order_by(), "paid_at", weeks, "currency", total=Sum("amount")),
        weeks, lambda w, e: links.period("decided_at", w, e, state=State.PAID),
    )
    board.refund_rate = _refund_rate(closed.filter(decided_at__gte=start, decided_at__lt=end), links, start, end)
    board.statutory = _series(
        "Statutory overrides",
        _counts(per_week(cases.filter(statutory_override=True), "approved_at", weeks, n=Count("*"))),
        weeks, lambda w, e: links.period("approved_at", w, e, state="all", statutory_override__exact="1"),
    )
    return board


def _counts(rows: list[dict]) -> dict[int, int]:
    return {row["week"]: row["n"] for row in rows}


def _open_cases(board: Dashboard, storefronts, links: Links, *, now: datetime) -> None:
    rows = (
        RefundCase.objects.order_by().filter(state__in=OPEN_STATES)
        .values("storefront_id", "state")
        .annotate(n=Count("*"), overdue=Count("state", filter=Q(next_deadline__lt=now)))
    )
    counts: dict[tuple[int, str], int] = {}
    overdue: dict[int, int] = {}
    for row in rows:
        counts[(row["storefront_id"], row["state"])] = row["n"]
        overdue[row["storefront_id"]] = overdue.get(row["storefront_id"], 0) + row["overdue"]
    for pk, name in storefronts:
        figures = [
            Figure(counts.get((pk, state), 0), links.cases(state=state, storefront__id__exact=pk))
            for state, _ in board.states
        ]
        total = Figure(sum(f.value for f in figures), links.cases(state="open", storefront__id__exact=pk))
        late = Figure(
            overdue.get(pk, 0),
            links.cases(state="open", storefront__id__exact=pk, next_deadline__lt=_moment(now)),
        )
        board.open_by_storefront.append((name, figures, total, late))
    board.open_totals = [
        Figure(sum(counts.get((pk, state), 0) for pk, _ in storefronts), links.cases(state=state))
        for state, _ in board.states
    ]
    board.open_total = Figure(sum(f.value for f in board.open_totals), links.cases(state="open"))
    board.overdue_total = Figure(
        sum(overdue.get(pk, 0) for pk, _ in storefronts),
        links.cases(state="open", next_deadline__lt=_moment(now)),
    )


def _money_series(rows, weeks: list[datetime], url) -> list[Series]:
    by_currency: dict[str, dict[int, Decimal]] = {}
    for row in rows:
        # SQLite sums decimals as floats; the money columns hold cents.
        by_currency.setdefault(row["currency"], {})[row["week"]] = Decimal(row["total"]).quantize(CENT)
    return [
        _series(currency, found, weeks, url, zero=Decimal("0.00"))
        for currency, found in sorted(by_currency.items())
    ]


def _refund_rate(closed, links: Links, start: datetime, end: datetime) -> list:
    # A part per reason: each reads its own range of the (reason, decided_at) index, with no
    # grouping of the period's rows by reason.
    parts = [
        closed.filter(reason=code).values("reason").annotate(n=Count("*"), paid=Count("state", filter=Q(state=State.PAID)))
        for code in REASON_LABELS
    ]
    found = {row["reason"]: row for row in parts[0].union(*parts[1:], all=True)}
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


def _median_aggregate() -> dict:
    if connection.vendor == "postgresql":
        return {"seconds": MedianSeconds(F("decided_at") - F("requested_at"))}
    return {}


def _median_hours(rows: list[dict], closed, weeks: list[datetime]) -> dict[int, float]:
    """Median hours from request to the closing decision, per week of closing."""
    if connection.vendor == "postgresql":
        return {r["week"]: round(r["seconds"] / 3600, 1) for r in rows if r["seconds"] is not None}
    # SQLite has no ordered-set aggregates: the spans are read and the medians taken here.
    spans: dict[int, list[float]] = {}
    ends = _week_ends(weeks)
    for decided, requested in (
        closed.filter(decided_at__gte=weeks[0], decided_at__lt=ends[-1]).values_list("decided_at", "requested_at")
        .iterator()
    ):
        week = bisect.bisect_right(weeks, decided) - 1
        spans.setdefault(week, []).append((decided - requested).total_seconds() / 3600)
    return {week: round(statistics.median(values), 1) for week, values in spans.items()}


class MedianSeconds(Aggregate):
    """PostgreSQL's exact median of a duration, in seconds (SQLite has no ordered-set aggregates)."""

    # Ordered by the interval itself: no conversion of every row to seconds, only of the median.
    function = "percentile_cont"
    template = "EXTRACT(EPOCH FROM %(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s))::double precision"
    output_field = FloatField()
