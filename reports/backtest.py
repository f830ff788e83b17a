"""Replaying a draft policy over closed cases (docs/policy-backtest.md).

Each closed case of the period is decided twice by the one engine (``rules.engine.decide``) on
the same facts: once under the version that judged it (in force at purchase, S1-VERSIONING) and
once under the draft. The facts are those ``RefundCase.facts`` builds (``rules.case_facts``),
read from plain rows rather than model instances so that a million cases take seconds, and set
back to the moment of the case's last decision: ``as_of`` is ``decided_at``, and the case's own
payout is not yet "already refunded" (the live code takes its snapshot before paying out, too).

A recorded run is a ``Backtest`` job (``core.jobs``); publishing a draft asks for a finished run of
the draft as it is (``publish_backtested``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BigIntegerField, DecimalField, ExpressionWrapper, F, Func, QuerySet, Value
from django.db.models.functions import Coalesce

from cases.models import RefundCase
from cases.states import CLOSED_STATES
from policies.models import PolicyDraft, PolicyVersion
from policies.publishing import publish_draft
from policies.selectors import in_force_at
from reports.models import Backtest
from rules.case_facts import case_facts, returned_so_far
from rules.engine import ZERO, Decision, Policy, decide

logger = logging.getLogger(__name__)

SAMPLE_SIZE = 25
PROGRESS_EVERY = 20_000
CHUNK = 5_000

# Reading the rows costs more than deciding them: only what the facts need, the case's own payout
# already taken off the order's refunds by the database.
COLUMNS = (
    "pk", "reason", "requested_at", "decided_at", "outage_hours", "fix_started_at", "fix_outcome",
    "order__amount", "order__currency", "order__payment_method", "order__purchased_at",
    "refunded_before", "order__charged_back_amount", "order__plan__months", "order__plan__devices",
    "order__subscription__delivered_at",
)


TIMESTAMPS = ("requested_at", "decided_at", "fix_started_at", "order__purchased_at", "order__subscription__delivered_at")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MONEY_FIELD = DecimalField(max_digits=12, decimal_places=2)


class MicroEpoch(Func):
    """A timestamp as microseconds since 1970 (PostgreSQL): exact, and read without a timezone loader."""

    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)::bigint"
    output_field = BigIntegerField()

    @property
    def convert_value(self):
        return self._convert_value_noop  # psycopg gives an int already


def replay_rows(cases: QuerySet[RefundCase]) -> Iterator[tuple]:
    """``COLUMNS`` of ``cases``, streamed; ``refunded_before``: the order's refunds but this case's own."""
    cases = cases.order_by().annotate(refunded_before=ExpressionWrapper(
        F("order__refunded_amount") - Coalesce(F("payout__amount"), Value(ZERO)), output_field=MONEY_FIELD
    ))
    if connection.vendor != "postgresql":
        yield from cases.values_list(*COLUMNS).iterator(chunk_size=CHUNK)
        return
    # Django reads each timestamptz through a Python loader (~30 us each, most of a replay's time);
    # as integers they cost what an id does, and become the same aware UTC datetimes here.
    cases = cases.annotate(**{f"_us_{i}": MicroEpoch(F(name)) for i, name in enumerate(TIMESTAMPS)})
    names = [f"_us_{TIMESTAMPS.index(c)}" if c in TIMESTAMPS else c for c in COLUMNS]
    positions = [i for i, c in enumerate(COLUMNS) if c in TIMESTAMPS]
    for row in cases.values_list(*names).iterator(chunk_size=CHUNK):
        row = list(row)
        for i in positions:
            if row[i] is not None:
                row[i] = EPOCH + timedelta(microseconds=row[i])
        yield tuple(row)


def closed_cases(*, storefront_id: int, start: datetime, end: datetime) -> QuerySet[RefundCase]:
    """The cases a backtest replays: closed, on the storefront, last decided within [start, end)."""
    return RefundCase.objects.filter(
        order__storefront_id=storefront_id, state__in=CLOSED_STATES, decided_at__gte=start, decided_at__lt=end
    )


@dataclass
class Change:
    case_id: int
    number: str
    currency: str
    before: tuple[str, Decimal | None]
    after: tuple[str, Decimal | None]


@dataclass
class Result:
    total: int = 0
    changed: int = 0
    transitions: Counter = field(default_factory=Counter)  # (outcome before, outcome after) -> changed cases
    outcomes_before: Counter = field(default_factory=Counter)
    outcomes_after: Counter = field(default_factory=Counter)
    money_before: dict[str, Decimal] = field(default_factory=dict)
    money_after: dict[str, Decimal] = field(default_factory=dict)
    sample: list[Change] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON for ``Backtest.summary``; amounts as strings with two decimals."""
        currencies = sorted(set(self.money_before) | set(self.money_after))
        return {
            "total": self.total,
            "changed": self.changed,
            "transitions": [
                {"from": before, "to": after, "count": count}
                for (before, after), count in sorted(self.transitions.items(), key=lambda item: (-item[1], item[0]))
            ],
            "outcomes_before": dict(sorted(self.outcomes_before.items())),
            "outcomes_after": dict(sorted(self.outcomes_after.items())),
            "money": [
                {
                    "currency": currency,
                    "before": f"{self.money_before.get(currency, ZERO):.2f}",
                    "after": f"{self.money_after.get(currency, ZERO):.2f}",
                    "difference": f"{self.money_after.get(currency, ZERO) - self.money_before.get(currency, ZERO):.2f}",
                }
                for currency in currencies
            ],
            "sample": [
                {
                    "case_id": c.case_id, "number": c.number, "currency": c.currency,
                    "before": c.before[0], "before_amount": _amount(c.before[1]),
                    "after": c.after[0], "after_amount": _amount(c.after[1]),
                }
                for c in self.sample
            ],
        }


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _money(decision: Decision) -> Decimal:
    """What the decision lets be refunded (the most, for discretionary outcomes); nothing for the rest."""
    return decision.refund_amount if decision.allows_refund else ZERO


def replay(rows: Iterable[tuple], *, draft: Policy, versions: list[PolicyVersion],
           progress: Callable[[int], None] | None = None, sample_size: int = SAMPLE_SIZE) -> Result:
    """Decide every row (``COLUMNS``) under its own version and under ``draft``; count what differs."""
    result = Result()
    policies = {v.pk: v.to_policy() for v in versions}
    transitions = result.transitions
    before_counts, after_counts = result.outcomes_before, result.outcomes_after
    money_before, money_after = result.money_before, result.money_after
    for (pk, reason, requested_at, decided_at, outage_hours, fix_started_at, fix_outcome,
         amount, currency, payment_method, purchased_at, refunded, charged_back, months, devices,
         delivered_at) in rows:
        facts = case_facts(
            price=amount, currency=currency, payment_method=payment_method, plan_months=months, devices=devices,
            purchased_at=purchased_at, delivered_at=delivered_at,
            refunded_so_far=returned_so_far(amount=amount, refunded=refunded, charged_back=charged_back),
            requested_at=requested_at, reason=reason, fix_started_at=fix_started_at, fix_outcome=fix_outcome,
            outage_hours=outage_hours, as_of=decided_at,
        )
        before = decide(facts, policies[in_force_at(versions, purchased_at).pk])
        after = decide(facts, draft)
        result.total += 1
        before_counts[before.outcome] += 1
        after_counts[after.outcome] += 1
        paid_before, paid_after = _money(before), _money(after)
        if paid_before:
            money_before[currency] = money_before.get(currency, ZERO) + paid_before
        if paid_after:
            money_after[currency] = money_after.get(currency, ZERO) + paid_after
        if before.outcome != after.outcome or before.refund_amount != after.refund_amount:
            result.changed += 1
            transitions[(before.outcome, after.outcome)] += 1
            if len(result.sample) < sample_size:
                result.sample.append(Change(pk, "", currency, (before.outcome, before.refund_amount),
                                            (after.outcome, after.refund_amount)))
        if progress is not None and result.total % PROGRESS_EVERY == 0:
            progress(result.total)
    return result


def backtest(*, draft: Policy, storefront_id: int, start: datetime, end: datetime,
             progress: Callable[[int], None] | None = None) -> Result:
    versions = list(PolicyVersion.objects.filter(storefront_id=storefront_id).order_by("effective_from"))
    rows = replay_rows(closed_cases(storefront_id=storefront_id, start=start, end=end))
    result = replay(rows, draft=draft, versions=versions, progress=progress)
    numbers = dict(RefundCase.objects.filter(pk__in=[c.case_id for c in result.sample]).values_list("pk", "number"))
    for change in result.sample:
        change.number = numbers.get(change.case_id, "")
    return result


# --- the recorded run: a Backtest row, claimed once, with progress --------------------------


def start_backtest(*, draft: PolicyDraft, start: datetime, end: datetime, actor=None) -> Backtest:
    """Record a backtest of the draft as it is now, queued; the task (or the command) runs it."""
    if start >= end:
        raise ValueError("The period must end after it starts.")
    return Backtest.objects.create(draft=draft, parameters=draft.parameters(), period_start=start, period_end=end,
                                   requested_by=actor)


def run_backtest(backtest_id: int, *, progress: Callable[[int, int], None] | None = None) -> Backtest | None:
    """Run a queued backtest. A second delivery of the same job finds it claimed and does nothing."""

    def work(run: Backtest) -> dict:
        draft = run.draft
        cases = closed_cases(storefront_id=draft.storefront_id, start=run.period_start, end=run.period_end)
        total = cases.count()
        run.report_progress(0, total=total)

        def report(done: int) -> None:
            run.report_progress(done)
            if progress is not None:
                progress(done, total)

        # The parameters recorded with the run, not the draft's current ones: an edit meanwhile is another run.
        policy = PolicyVersion(storefront=draft.storefront, version=draft.version, **run.parameters).to_policy()
        result = backtest(draft=policy, storefront_id=draft.storefront_id, start=run.period_start,
                          end=run.period_end, progress=report)
        return {"total": result.total, "processed": result.total, "changed": result.changed,
                "summary": result.summary()}

    return Backtest.execute(backtest_id, work, queryset=Backtest.objects.select_related("draft__storefront"))


# --- publishing: only after a backtest of the draft as it is -----------------------------------


def current_backtest(draft: PolicyDraft) -> Backtest | None:
    """The latest finished backtest of the draft as it is now (an edit since makes older ones stale)."""
    parameters = draft.parameters()
    for run in draft.backtests.filter(status=Backtest.Status.DONE).order_by("-finished_at", "-id")[:20]:
        if run.parameters == parameters:
            return run
    return None


def publish_backtested(*, draft_id: int, backtest_id: int, effective_from: datetime, actor) -> PolicyVersion:
    """Publish the draft (``policies.publishing``) after the backtest its publisher was shown.

    ``backtest_id`` is that run: it must be finished, and of the draft as it is when it is locked.
    """

    def seen(draft: PolicyDraft) -> None:
        run = Backtest.objects.filter(draft=draft, pk=backtest_id, status=Backtest.Status.DONE).first()
        if run is None or run.parameters != draft.parameters():
            raise ValidationError("The draft changed since that backtest: run a backtest of it as it is now.")

    return publish_draft(draft_id=draft_id, effective_from=effective_from, actor=actor, check=seen)
