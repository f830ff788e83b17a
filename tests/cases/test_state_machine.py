"""Random sequences of service calls on both storefronts, with the invariants checked after every step."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cases import services
from cases.models import CaseEvent, Payout, RefundCase
from cases.states import OPEN_STATES, Reason, State
from core.errors import CaseActionError
from orders.models import Extension, Order, Subscription
from rules.engine import outage_hours_bound
from tests.cases import PURCHASED
from tests.conftest import make_order

ACTORS = ("agent", "manager", "manager2", "outsider")
ACTIONS = ("start_fix", "fix_succeeded", "fix_failed", "request_evidence", "evidence_received", "approve",
           "approve_statutory", "extend", "deny", "withdraw", "pay")
AMOUNTS = st.one_of(
    st.none(),
    st.sampled_from(["", "abc", "0", "-1", "1.001", "1e30", "NaN", "59.99", "60.00"]),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("80"), places=2),
)
CLOSING = ("deny", "withdraw")
# Every reason, with those that lead somewhere other than a denial drawn more often.
REASONS = [*Reason.values, "technical_issue", "technical_issue", "server_outage", "other", "duplicate_payment"]
TEXTS = st.sampled_from(["", "   ", "Checked with the customer."])


class CaseMachine(RuleBasedStateMachine):
    """Four orders (two per storefront), cases opened on them at random, every service called at random.

    Each example runs inside its own transaction, rolled back in ``teardown``.
    """

    people: dict = {}
    storefronts: dict = {}

    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        # Four days after the purchase: room for every outage the rules try (at most 100 h).
        self.now = PURCHASED + timedelta(days=4, hours=1)
        s0, s1 = self.storefronts["s0"], self.storefronts["s1"]
        self.orders = [
            make_order(s0, payment_method="card", purchased_at=PURCHASED),
            make_order(s0, amount="30.00", months=1, payment_method="paypal", purchased_at=PURCHASED),
            make_order(s1, payment_method="card", purchased_at=PURCHASED),
            make_order(s1, amount="120.00", months=12, payment_method="crypto", purchased_at=PURCHASED,
                       delivered_at=None),
        ]
        self.order_ids = [order.pk for order in self.orders]
        self.copies: dict[int, RefundCase] = {}  # an instance a service handed back, often stale since
        self.events_seen: dict[int, dict] = {}

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- what the steps compare --------------------------------------------------------

    def world(self) -> dict:
        mine = {"order_id__in": self.order_ids}
        return {
            "orders": list(Order.objects.filter(pk__in=self.order_ids).order_by("pk").values()),
            "subscriptions": list(Subscription.objects.filter(**mine).order_by("pk").values()),
            "cases": list(RefundCase.objects.filter(**mine).order_by("pk").values()),
            "events": list(CaseEvent.objects.filter(case__order_id__in=self.order_ids).order_by("pk").values()),
            "payouts": list(Payout.objects.filter(**mine).order_by("pk").values()),
            "extensions": list(Extension.objects.filter(subscription__order_id__in=self.order_ids)
                               .order_by("pk").values()),
        }

    # --- rules -------------------------------------------------------------------------

    @initialize(reasons=st.lists(st.sampled_from(REASONS), min_size=4, max_size=4))
    def open_one_case_per_order(self, reasons: list[str]) -> None:
        for order, reason in zip(self.orders, reasons):
            # A never-delivered order had no outage (S0-OUTAGE's bound).
            outage = 72 if order.subscription.delivered_at is not None else 0
            case = services.case_create(order=order, reason=reason, requested_at=self.now, outage_hours=outage,
                                        now=self.now)
            self.copies[case.pk] = case

    def free_orders(self) -> list[Order]:
        busy = set(RefundCase.objects.filter(order_id__in=self.order_ids, state__in=OPEN_STATES)
                   .values_list("order_id", flat=True))
        return [order for order in self.orders if order.pk not in busy]

    @precondition(lambda self: self.free_orders())
    @rule(index=st.integers(min_value=0, max_value=3), reason=st.sampled_from(REASONS),
          outage=st.sampled_from([0, 24, 48, 49, "72.5", 100]), busy=st.integers(min_value=0, max_value=9))
    def open_case(self, index: int, reason: str, outage, busy: int) -> None:
        """Mostly on an order with no open case; now and then on a busy one, which must be refused."""
        free = self.free_orders()
        order = free[index % len(free)] if free and busy else self.orders[index]
        before = self.world()
        try:
            case = services.case_create(order=order, reason=reason, requested_at=self.now, outage_hours=outage,
                                        now=self.now)
        except CaseActionError:
            assert self.world() == before
            # S0-OUTAGE's bound: no more outage than the time the customer had the service.
            no_outage_possible = Decimal(str(outage)) > outage_hours_bound(order.subscription.delivered_at, self.now)
            assert no_outage_possible or RefundCase.objects.filter(order=order, state__in=OPEN_STATES).exists()
            return
        self.copies[case.pk] = case
        new = [e for e in self.world()["events"] if e["id"] not in {b["id"] for b in before["events"]}]
        assert [(e["case_id"], e["kind"]) for e in new] == [(case.pk, CaseEvent.Kind.CREATED)]

    @precondition(lambda self: self.copies)
    @rule(data=st.data(), pick=st.integers(min_value=0, max_value=50), wild=st.integers(min_value=0, max_value=3),
          minutes=st.sampled_from([0, 0, 10, 60, 6 * 60, 24 * 60, 49 * 60]))
    def act(self, data, pick: int, wild: int, minutes: int) -> None:
        """Time passes, then one service call.

        A wild step (one in four) draws anything: any actor, action, amount, note, expected state, and
        maybe the caller's stale copy of the case. A tame one draws an action the admin would offer a
        staff member, with a note.
        """
        self.now += timedelta(minutes=minutes)
        wild = wild == 0
        still_open = sorted(RefundCase.objects.filter(pk__in=self.copies, state__in=OPEN_STATES)
                            .values_list("pk", flat=True))
        pool = still_open if still_open and not wild else sorted(self.copies)
        pk = pool[pick % len(pool)]
        current = RefundCase.objects.get(pk=pk)
        state_before = current.state
        actor = data.draw(st.sampled_from(ACTORS if wild else ["agent", "manager", "manager2", "manager2"]))
        # What the admin would offer this actor: the transitions with nothing against them.
        offered = [name for name in ACTIONS
                   if services.transition_error(case=current, user=self.people[actor], name=name, now=self.now) is None]
        if wild or not offered:
            action = data.draw(st.sampled_from(ACTIONS))
            params = {"amount": data.draw(AMOUNTS), "text": data.draw(TEXTS),
                      "bonus": data.draw(st.sampled_from([0, 3, -1])),
                      "method": data.draw(st.sampled_from([None, "card", "paypal", "gold"])),
                      "expected": data.draw(st.sampled_from([None, *State.values]))}
            stale = data.draw(st.booleans())
        else:
            # Deny and withdraw are offered in every open state: weigh them down so that cases get further;
            # weigh payouts up, since the money invariants only bite once money has moved.
            weighted = [name for name in offered for _ in range(1 if name in CLOSING else 8 if name == "pay" else 3)]
            action = data.draw(st.sampled_from(weighted))
            params = {"amount": data.draw(st.none() | st.decimals(min_value=Decimal("0.01"), max_value=Decimal("60"),
                                                                   places=2)),
                      "text": "Checked with the customer.", "bonus": data.draw(st.integers(0, 30)),
                      "method": None, "expected": None}
            stale = False
        case = self.copies[pk] if stale else pk
        before = self.world()
        try:
            result = self.call(action, case, self.people[actor], **params)
        except CaseActionError as error:
            event(f"{action} refused: {error.code}")
            assert error.message.strip()
            assert self.world() == before, f"refused {action} changed something"
            return
        event(f"{action} done")
        if data.draw(st.booleans(), label="the caller keeps the copy the service returned"):
            self.copies[pk] = result
        after = self.world()
        stored = RefundCase.objects.get(pk=pk)
        assert result.state == stored.state
        known = {e["id"] for e in before["events"]}
        new = [e for e in after["events"] if e["id"] not in known]
        taken = [c["assignee_id"] for c in before["cases"] if c["id"] == pk] == [None]
        # Acting on an unassigned case takes it: the assignment is logged just before the action.
        assert [e["kind"] for e in new] == ([CaseEvent.Kind.ASSIGNED] if taken else []) + [CaseEvent.Kind.TRANSITION]
        assert stored.assignee_id == (self.people[actor].pk if taken else stored.assignee_id)
        written = new[-1]
        assert (written["case_id"], written["kind"], written["transition"]) == (pk, CaseEvent.Kind.TRANSITION, action)
        assert (written["from_state"], written["to_state"]) == (state_before, stored.state)
        assert written["actor_id"] == self.people[actor].pk
        others = [c for c in after["cases"] if c["id"] != pk]
        assert others == [c for c in before["cases"] if c["id"] != pk]

    def call(self, action, case, actor, *, amount, text, bonus, method, expected):
        now = self.now
        if action == "start_fix":
            return services.case_start_fix(case=case, actor=actor, note=text, now=now)
        if action == "fix_succeeded":
            return services.case_fix_succeeded(case=case, actor=actor, note=text, now=now)
        if action == "fix_failed":
            return services.case_fix_failed(case=case, actor=actor, note=text, now=now)
        if action == "request_evidence":
            return services.case_request_evidence(case=case, actor=actor, message=text, now=now)
        if action == "evidence_received":
            return services.case_evidence_received(case=case, actor=actor, note=text, now=now)
        if action == "approve":
            return services.case_approve(case=case, actor=actor, amount=amount, note=text, now=now,
                                         expected_state=expected)
        if action == "approve_statutory":
            return services.case_approve_statutory(case=case, actor=actor, amount=amount, basis=text, now=now,
                                                   expected_state=expected)
        if action == "extend":
            return services.case_extend(case=case, actor=actor, bonus_days=bonus, note=text, now=now,
                                        expected_state=expected)
        if action == "deny":
            return services.case_deny(case=case, actor=actor, reason="other", note=text, now=now,
                                      expected_state=expected)
        if action == "withdraw":
            return services.case_withdraw(case=case, actor=actor, note=text, now=now)
        if action == "pay":
            return services.case_pay(case=case, actor=actor, reference=text and "re_" + text[:5],
                                     method=method, method_note=text, now=now)
        raise AssertionError(action)

    # --- invariants --------------------------------------------------------------------

    @invariant()
    def money_adds_up(self) -> None:
        for order in Order.objects.filter(pk__in=self.order_ids):
            paid = sum((p.amount for p in order.payouts.all()), Decimal("0.00"))
            assert Decimal("0") <= order.refunded_amount <= order.amount
            assert order.refunded_amount == paid
            expected_status = (Order.Status.PAID if paid == 0 else Order.Status.REFUNDED if paid == order.amount
                               else Order.Status.PARTIALLY_REFUNDED)
            assert order.status == expected_status
            assert order.cases.filter(state__in=OPEN_STATES).count() <= 1

    @invariant()
    def cases_match_their_payouts(self) -> None:
        payouts = Counter(Payout.objects.filter(order_id__in=self.order_ids).values_list("case_id", flat=True))
        assert all(count == 1 for count in payouts.values())
        for case in RefundCase.objects.filter(order_id__in=self.order_ids).select_related("order"):
            if case.state in (State.APPROVED, State.PAID):
                assert case.approved_amount is not None and case.approved_amount > 0
                assert case.approved_by_id is not None
            if case.state == State.APPROVED:
                assert case.approved_amount <= case.order.refundable_remainder
            if case.state == State.PAID:
                payout = Payout.objects.get(case=case)
                assert (payout.amount, payout.order_id) == (case.approved_amount, case.order_id)
                assert payout.paid_by_id != case.approved_by_id  # both storefronts keep H-FOUR-EYES on
            else:
                assert case.pk not in payouts
            if case.statutory_override:
                assert case.statutory_basis.strip() and case.order.storefront.slug == "smarters-pro"

    @invariant()
    def the_log_tells_the_story_and_never_changes(self) -> None:
        events = list(CaseEvent.objects.filter(case__order_id__in=self.order_ids).order_by("pk").values())
        for seen_pk, seen in self.events_seen.items():
            assert next(e for e in events if e["id"] == seen_pk) == seen
        self.events_seen = {e["id"]: e for e in events}
        for case in RefundCase.objects.filter(order_id__in=self.order_ids):
            mine = [e for e in events if e["case_id"] == case.pk]
            assert mine[0]["kind"] == CaseEvent.Kind.CREATED
            state = State.REQUESTED
            for written in mine[1:]:
                if written["kind"] == CaseEvent.Kind.ASSIGNED:
                    continue
                assert written["kind"] == CaseEvent.Kind.TRANSITION
                assert written["from_state"] == state
                state = written["to_state"]
            assert state == case.state


@pytest.mark.django_db
def test_it_keeps_its_invariants_under_random_service_calls(s0, s1, agent, manager, manager2, outsider):
    machine = type("Machine", (CaseMachine,), {
        "people": {"agent": agent, "manager": manager, "manager2": manager2, "outsider": outsider},
        "storefronts": {"s0": s0, "s1": s1},
    })

    run_state_machine_as_test(machine, settings=settings(
        max_examples=25, stateful_step_count=20, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    ))
