"""The policy's likely answer, shown on the request form before the customer sends it.

The form cannot use the customer's own order (that would tell a stranger whether an order exists),
so the engine is asked about a few typical situations for each reason: asked soon after buying or
weeks later, access details received or not, an outage of hours or of days. Only the situations that
change the answer are named. The answers are the engine's own decisions; nothing here knows a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import product

from django.utils.translation import gettext_lazy as _

from cases.customer_words import OUTCOME_WORDS
from orders.models import Storefront
from policies.selectors import NoPolicy, policy_version_for
from rules.engine import REASONS, Facts, Policy, decide

# (axis, value) -> words; each axis is one fact the customer knows about their own order.
SITUATIONS = {
    ("time", "soon"): _("asked soon after buying"),
    ("time", "weeks"): _("asked weeks after buying"),
    ("delivered", False): _("access details not received yet"),
    ("delivered", True): _("access details received"),
    ("outage", "hours"): _("the service was down for a few hours"),
    ("outage", "days"): _("the service was down for several days"),
}
AXES = {"time": ("soon", "weeks"), "delivered": (False, True), "outage": ("hours", "days")}
TYPICAL_PRICE = Decimal("59.99")


@dataclass(frozen=True)
class HintLine:
    situation: str  # empty when the answer is the same in every situation
    outcome: str
    clauses: tuple[str, ...]
    policy: Policy  # the version that gave the answer, whose words its clauses are quoted in


@dataclass(frozen=True)
class ReasonHint:
    reason: str
    lines: list[HintLine]


def _facts(reason: str, situation: dict, now: datetime) -> Facts:
    bought = now - (timedelta(hours=1) if situation["time"] == "soon" else timedelta(days=30))
    delivered = bought + timedelta(minutes=5) if situation["delivered"] else None
    outage = Decimal("0")
    if reason == "server_outage" and delivered is not None:
        since = Decimal((now - delivered) / timedelta(hours=1)).quantize(Decimal("0.1"))
        outage = min(since, Decimal("2") if situation["outage"] == "hours" else Decimal("120"))
    return Facts(
        price=TYPICAL_PRICE, currency="USD", payment_method="card", plan_months=12, purchased_at=bought,
        requested_at=now, reason=reason, as_of=now, delivered_at=delivered, outage_hours=outage,
    )


def _axes_for(reason: str) -> dict:
    # An outage of days needs access for days: the outage question is asked weeks after buying.
    if reason == "server_outage":
        return {"time": ("weeks",), "delivered": AXES["delivered"], "outage": AXES["outage"]}
    return {"time": AXES["time"], "delivered": AXES["delivered"], "outage": ("hours",)}


def reason_hints(storefront: Storefront, *, now: datetime) -> list[ReasonHint]:
    try:
        policies = {
            when: policy_version_for(storefront_id=storefront.pk, purchased_at=now - delta).to_policy()
            for when, delta in (("soon", timedelta(hours=1)), ("weeks", timedelta(days=30)))
        }
    except NoPolicy:
        return []
    return [_hint(reason, policies, now) for reason in REASONS]


def _hint(reason: str, policies: dict[str, Policy], now: datetime) -> ReasonHint:
    axes = _axes_for(reason)
    names = list(axes)
    results = {}
    for values in product(*axes.values()):
        situation = dict(zip(names, values))
        decision = decide(_facts(reason, situation, now), policies[situation["time"]])
        results[values] = (decision.outcome, decision.clauses)
    # An axis matters when changing it alone changes the answer somewhere.
    matters = [
        i for i, name in enumerate(names)
        if any(results[v] != results[v[:i] + (other,) + v[i + 1:]]
               for v in results for other in axes[name] if other != v[i])
    ]
    lines: list[HintLine] = []
    seen = set()
    for values, result in results.items():
        kept = [i for i in matters if i not in _droppable(values, result, results, axes, names, matters)]
        key = tuple((i, values[i]) for i in kept)
        if key in seen:
            continue
        seen.add(key)
        situation = ", ".join(str(SITUATIONS[(names[i], values[i])]) for i in kept)
        outcome, clauses = result
        lines.append(HintLine(situation[:1].upper() + situation[1:], str(OUTCOME_WORDS.get(outcome, "")), clauses,
                              policies[dict(zip(names, values))["time"]]))
    return ReasonHint(reason, lines)


def _droppable(values: tuple, result, results: dict, axes: dict, names: list, matters: list) -> set[int]:
    """The axes this situation can leave unsaid: every value of them gives the same answer."""
    dropped: set[int] = set()
    for i in matters:
        candidate = dropped | {i}
        variants = product(*[axes[names[j]] if j in candidate else (values[j],) for j in range(len(names))])
        if all(results[v] == result for v in variants):
            dropped = candidate
    return dropped
