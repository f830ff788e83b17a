"""Replaying a draft policy over closed cases (docs/policy-backtest.md).

Each closed case of the period is decided twice by the one engine (``policies.engine.decide``) on
the same facts: once under the version that judged it (in force at purchase, S1-VERSIONING) and
once under the draft. The facts are those ``RefundCase.facts`` builds (``policies.case_facts``),
read from plain rows rather than model instances so that a million cases take seconds, and set
back to the moment of the case's last decision: ``as_of`` is ``decided_at``, and the case's own
payout is not yet "already refunded" (the live code takes its snapshot before paying out, too).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from cases.models import RefundCase
from cases.states import CLOSED_STATES
from policies.case_facts import case_facts, returned_so_far
from policies.engine import ZERO, Decision, Policy, decide
from policies.models import Backtest, PolicyDraft, PolicyVersion
from policies.selectors import in_force_at

logger = logging.getLogger(__name__)

SAMPLE_SIZE = 25
PROGRESS_EVERY = 20_000
CHUNK = 5_000

COLUMNS = (
    "pk", "number", "reason", "requested_at", "decided_at", "outage_hours", "fix_started_at", "fix_outcome",
    "order__amount", "order__currency", "order__payment_method", "order__purchased_at",
    "order__refunded_amount", "order__charged_back_amount", "order__plan__months", "order__plan__devices",
    "order__subscription__delivered_at", "payout__amount",
)


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
    for (pk, number, reason, requested_at, decided_at, outage_hours, fix_started_at, fix_outcome,
         amount, currency, payment_method, purchased_at, refunded, charged_back, months, devices,
         delivered_at, own_payout) in rows:
        facts = case_facts(
            price=amount, currency=currency, payment_method=payment_method, plan_months=months, devices=devices,
            purchased_at=purchased_at, delivered_at=delivered_at,
            refunded_so_far=returned_so_far(amount=amount, refunded=refunded - (own_payout or ZERO),
                                            charged_back=charged_back),
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
                result.sample.append(Change(pk, number, currency, (before.outcome, before.refund_amount),
                                            (after.outcome, after.refund_amount)))
        if progress is not None and result.total % PROGRESS_EVERY == 0:
            progress(result.total)
    return result


def backtest(*, draft: Policy, storefront_id: int, start: datetime, end: datetime,
             progress: Callable[[int], None] | None = None) -> Result:
    versions = list(PolicyVersion.objects.filter(storefront_id=storefront_id).order_by("effective_from"))
    rows = (
        closed_cases(storefront_id=storefront_id, start=start, end=end)
        .order_by()
        .values_list(*COLUMNS)
        .iterator(chunk_size=CHUNK)
    )
    return replay(rows, draft=draft, versions=versions, progress=progress)


# --- the recorded run: a Backtest row, claimed once, with progress --------------------------


def start_backtest(*, draft: PolicyDraft, start: datetime, end: datetime, actor=None) -> Backtest:
    """Record a backtest of the draft as it is now, queued; the task (or the command) runs it."""
    if start >= end:
        raise ValueError("The period must end after it starts.")
    return Backtest.objects.create(draft=draft, parameters=draft.parameters(), period_start=start, period_end=end,
                                   requested_by=actor)


def run_backtest(backtest_id: int, *, progress: Callable[[int, int], None] | None = None) -> Backtest | None:
    """Run a queued backtest. A second delivery of the same job finds it claimed and does nothing."""
    now = timezone.now()
    # The conditional update is the claim: two workers given the same job cannot both run it.
    if not Backtest.objects.filter(pk=backtest_id, status=Backtest.Status.QUEUED).update(
        status=Backtest.Status.RUNNING, started_at=now
    ):
        return None
    run = Backtest.objects.select_related("draft__storefront").get(pk=backtest_id)
    draft = run.draft
    try:
        cases = closed_cases(storefront_id=draft.storefront_id, start=run.period_start, end=run.period_end)
        total = cases.count()
        Backtest.objects.filter(pk=run.pk).update(total=total)

        def report(done: int) -> None:
            Backtest.objects.filter(pk=run.pk).update(processed=done)
            if progress is not None:
                progress(done, total)

        # The parameters recorded with the run, not the draft's current ones: an edit meanwhile is another run.
        policy = PolicyVersion(storefront=draft.storefront, version=draft.version, **run.parameters).to_policy()
        result = backtest(draft=policy, storefront_id=draft.storefront_id, start=run.period_start,
                          end=run.period_end, progress=report)
    except Exception as error:
        logger.exception("backtest %s failed", run.pk)
        Backtest.objects.filter(pk=run.pk).update(status=Backtest.Status.FAILED, error=str(error)[:2000],
                                                  finished_at=timezone.now())
        run.refresh_from_db()
        return run
    Backtest.objects.filter(pk=run.pk).update(
        status=Backtest.Status.DONE, total=result.total, processed=result.total, changed=result.changed,
        summary=result.summary(), finished_at=timezone.now(),
    )
    run.refresh_from_db()
    return run
