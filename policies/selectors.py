"""Reads for the policy engine: which version applies, and the decision for a stored case."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from orders.models import Storefront
from policies.models import Clause, PolicyVersion
from rules.engine import Decision, Facts, Policy, decide


class NoPolicy(LookupError):
    pass


def in_force_at(versions: Sequence[PolicyVersion], moment: datetime) -> PolicyVersion | None:
    """S1-VERSIONING over ``versions`` sorted by start: the one in force at ``moment``, or the earliest
    if ``moment`` predates them all (pure, so a replay of many cases picks versions the same way)."""
    if not versions:
        return None
    index = bisect_right([v.effective_from for v in versions], moment) - 1
    return versions[max(index, 0)]


def policy_version_for(*, storefront_id: int, purchased_at: datetime) -> PolicyVersion:
    """S1-VERSIONING: the version in force at purchase time; the earliest if it predates them all."""
    versions = list(
        PolicyVersion.objects.filter(storefront_id=storefront_id).select_related("storefront").order_by("effective_from")
    )
    version = in_force_at(versions, purchased_at)
    if version is None:
        raise NoPolicy(f"storefront: storefront {storefront_id} has no refund policy")
    return version


def policy_for_order(order) -> Policy:
    cache = order.__dict__.setdefault("_policy_cache", {})
    if "policy" not in cache:
        cache["policy"] = policy_version_for(
            storefront_id=order.storefront_id, purchased_at=order.purchased_at
        ).to_policy()
    return cache["policy"]


def preload_policies(orders, *, policies: dict[int, Policy] | None = None) -> None:
    """Give every order the policy ``policy_for_order`` would find, with one query for all of them.

    S1-VERSIONING as in ``policy_version_for``. ``policies`` (Policy by version id) may be kept
    across calls, so that each version becomes a Policy, and works out its rules, once. An order
    whose storefront has no policy is left alone: ``policy_for_order`` raises NoPolicy for it.
    """
    orders = list(orders)
    versions: dict[int, list[PolicyVersion]] = defaultdict(list)
    for version in (
        PolicyVersion.objects.filter(storefront_id__in={order.storefront_id for order in orders})
        .select_related("storefront").order_by("effective_from")
    ):
        versions[version.storefront_id].append(version)
    policies = {} if policies is None else policies
    for order in orders:
        version = in_force_at(versions.get(order.storefront_id, ()), order.purchased_at)
        if version is None:
            continue
        if version.pk not in policies:
            policies[version.pk] = version.to_policy()
        order.__dict__.setdefault("_policy_cache", {})["policy"] = policies[version.pk]


def decide_for_case(*, case, as_of: datetime | None = None) -> Decision:
    return decide(case.facts(as_of=as_of or timezone.now()), policy_for_order(case.order))


def decide_for_storefront(*, slug: str, facts: Facts) -> Decision:
    """Simulator entry: the decision for hypothetical facts on a storefront the database holds."""

    storefront = Storefront.objects.filter(slug=slug).first()
    if storefront is None:
        raise NoPolicy(f"storefront: unknown storefront {slug!r}")
    version = policy_version_for(storefront_id=storefront.pk, purchased_at=facts.purchased_at)
    return decide(facts, version.to_policy())


def clause_texts(clause_ids) -> dict[str, Clause]:
    return {c.clause_id: c for c in Clause.objects.filter(clause_id__in=list(clause_ids))}


def own_clause(order, suffix: str) -> str:
    """The ID of the order's policy clause ``suffix``, or "" when that policy has none: a text about a
    case never cites another storefront's clause."""
    clause_id = policy_for_order(order).clause(suffix)
    cache = order.__dict__.setdefault("_policy_cache", {})
    if f"clause:{clause_id}" not in cache:
        cache[f"clause:{clause_id}"] = Clause.objects.filter(
            clause_id=clause_id, storefront_id=order.storefront_id).exists()
    return clause_id if cache[f"clause:{clause_id}"] else ""


def cited(order, suffix: str) -> str:
    """`` (S1-STATUTORY)`` after a sentence, when the order's policy has that clause; else nothing."""
    clause_id = own_clause(order, suffix)
    return f" ({clause_id})" if clause_id else ""
