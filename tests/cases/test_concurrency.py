"""Several people acting on one case at the same moment, and the database rules behind the services.

The threaded tests need PostgreSQL's row locks and real transactions; the backstops hold on SQLite too.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from cases import services
from cases.models import CaseEvent, Payout, RefundCase
from cases.services.chargebacks import chargeback_record
from cases.states import State
from core.errors import CaseActionError, Code
from orders.models import Order
from tests.cases import PRICE, WITHIN_WINDOW, fresh, later, open_case
from tests.conftest import at, make_order, make_user, race

THREADS = 8

NOW = later(WITHIN_WINDOW, hours=1)


def user(pk: int) -> User:
    """A fresh instance per thread: permission caches are not shared between requests."""
    return User.objects.get(pk=pk)


# --- PostgreSQL: real concurrency -----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_pays_a_case_once_when_several_people_pay_it_at_once(s0, agent):
    payers = [make_user(f"payer{i}", "Support manager").pk for i in range(THREADS)]
    case = services.case_approve(case=open_case(s0), actor=agent, now=NOW)

    done, refused = race(lambda i: services.case_pay(case=case.pk, actor=user(payers[i]), reference=f"re_{i}",
                                                     now=later(NOW, days=1)))

    assert len(done) == 1 and done[0].state == State.PAID
    assert len(refused) == THREADS - 1
    for error in refused:
        assert error.code == Code.ALREADY_DONE
        assert error.message == "Someone else already changed this case (it is now paid); reload the page."
    assert Payout.objects.filter(case=case).count() == 1
    assert CaseEvent.objects.filter(case=case, transition="pay").count() == 1
    order = Order.objects.get(pk=case.order_id)
    assert order.refunded_amount == PRICE
    assert order.status == Order.Status.REFUNDED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_approves_a_case_once_when_several_people_approve_it_at_once(s0):
    approvers = [make_user(f"approver{i}", "Support agent" if i % 2 else "Support manager").pk
                 for i in range(THREADS)]
    case = open_case(s0)

    done, refused = race(lambda i: services.case_approve(case=case.pk, actor=user(approvers[i]),
                                                         expected_state=State.REQUESTED, now=NOW))

    assert len(done) == 1
    assert len(refused) == THREADS - 1
    for error in refused:
        assert error.code == Code.ALREADY_DONE
        assert error.message == "Someone else already changed this case (it is now approved); reload the page."
    stored = fresh(case)
    assert stored.state == State.APPROVED
    assert stored.approved_by_id == done[0].approved_by_id
    assert CaseEvent.objects.filter(case=case, transition="approve").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_one_of_a_payment_and_a_withdrawal_at_once_win(s0, agent, manager):
    case = services.case_approve(case=open_case(s0), actor=agent, now=NOW)
    calls = [
        lambda: services.case_pay(case=case.pk, actor=user(manager.pk), reference="re_1", now=later(NOW, hours=1)),
        lambda: services.case_withdraw(case=case.pk, actor=user(agent.pk), note="Customer asked",
                                           now=later(NOW, hours=1)),
    ]

    done, refused = race(lambda i: calls[i](), threads=2)

    assert len(done) == 1 and len(refused) == 1
    winner = fresh(case)
    assert winner.state == done[0].state
    assert refused[0].code in (Code.ALREADY_DONE, Code.WRONG_STATE)
    assert Payout.objects.filter(case=case).count() == (1 if winner.state == State.PAID else 0)
    assert Order.objects.get(pk=case.order_id).refunded_amount == (PRICE if winner.state == State.PAID else 0)
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.TRANSITION).count() == 2


@pytest.mark.clause("H-CAP")
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_rechecks_the_remainder_under_the_order_lock_when_a_chargeback_lands_during_a_payout(s0, agent, manager):
    """A payout that waited for a chargeback's locks must judge the order as the chargeback left it.

    The payout's first read of the order (joined to the locked case row) is the snapshot from
    before it waited; only the re-read under the order's row lock sees the chargeback.
    """
    case = services.case_approve(case=open_case(s0), actor=agent, now=NOW)
    holding = threading.Event()
    paying = threading.Event()
    outcome: dict[str, object] = {}

    def chargeback() -> None:
        try:
            with transaction.atomic():
                chargeback_record(order=Order.objects.get(pk=case.order_id), actor=user(manager.pk),
                                  amount=Decimal("10.00"), opened_at=later(NOW, minutes=30),
                                  now=later(NOW, hours=1))
                holding.set()
                paying.wait(timeout=30)
                time.sleep(0.5)  # the payout is now blocked on the case row this transaction locked
        finally:
            connection.close()

    def pay() -> None:
        holding.wait(timeout=30)
        paying.set()
        try:
            outcome["paid"] = services.case_pay(case=case.pk, actor=user(payer.pk), reference="re_1",
                                                now=later(NOW, hours=2))
        except CaseActionError as error:
            outcome["refused"] = error
        finally:
            connection.close()

    payer = make_user("payer", "Support manager")
    threads = [threading.Thread(target=chargeback), threading.Thread(target=pay)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert "paid" not in outcome
    assert outcome["refused"].code == Code.POLICY_BLOCKS
    assert "H-CAP" in outcome["refused"].message
    order = Order.objects.get(pk=case.order_id)
    assert (order.refunded_amount, order.charged_back_amount) == (Decimal("0.00"), Decimal("10.00"))
    assert not Payout.objects.filter(order=order).exists()
    assert fresh(case).state == State.APPROVED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_opens_one_case_when_several_requests_for_an_order_arrive_at_once(s0):
    order = make_order(s0)

    done, refused = race(lambda i: services.case_create(order=order, reason="other", requested_at=WITHIN_WINDOW,
                                                        now=NOW))

    assert len(done) == 1
    assert RefundCase.objects.filter(order=order).count() == 1
    assert len(refused) == THREADS - 1
    for error in refused:
        assert error.code == Code.INVALID_INPUT
        assert error.message == f"Order {order} already has an open case, {done[0].number}."


# --- the database backstops behind the services ---------------------------------------------


def test_it_refuses_refunds_above_the_order_amount_in_the_database(s0):
    order = make_order(s0, refunded="50.00")

    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        Order.objects.filter(pk=order.pk).update(refunded_amount=F("amount") + Decimal("0.01"))

    assert "order_refunds_within_amount" in str(caught.value)
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("50.00")


def test_it_refuses_a_second_payout_for_one_case_in_the_database(s0, agent, manager):
    case = services.case_approve(case=open_case(s0), actor=agent, now=NOW)
    paid = services.case_pay(case=case, actor=manager, reference="re_1", now=later(NOW, days=1))
    first = paid.payout

    with pytest.raises(IntegrityError), transaction.atomic():
        Payout.objects.create(
            case=paid, order=paid.order, amount=Decimal("1.00"), currency="USD", method="card", reference="re_2",
            paid_by=manager, paid_at=first.paid_at, arrival_min_days=1, arrival_max_days=1, arrival_worst_days=1,
            expected_by=first.expected_by, expected_worst_by=first.expected_worst_by,
        )

    assert Payout.objects.filter(case=case).count() == 1


def test_it_refuses_two_open_cases_on_one_order_in_the_database(s0):
    first = open_case(s0)

    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        RefundCase.objects.create(order=first.order, reason="other", requested_at=at("2026-01-03 10:00"))

    if connection.vendor == "postgresql":
        assert "case_one_open_per_order" in str(caught.value)
    assert RefundCase.objects.filter(order=first.order).count() == 1


def test_it_allows_a_new_case_once_the_open_one_is_closed_in_the_database(s0, agent):
    first = services.case_withdraw(case=open_case(s0), actor=agent, now=NOW)

    again = RefundCase.objects.create(order=first.order, reason="other", requested_at=at("2026-01-03 10:00"))

    assert again.state == State.REQUESTED


def test_it_surfaces_the_one_open_case_rule_as_a_clear_refusal(s0):
    first = open_case(s0)

    with pytest.raises(CaseActionError) as caught:
        services.case_create(order=first.order, reason="technical_issue", requested_at=NOW, now=NOW)

    assert caught.value.code == Code.INVALID_INPUT
    assert caught.value.message == f"Order {first.order} already has an open case, {first.number}."


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_stores_a_comment_sent_three_times_at_once_once(s0, agent, mailoutbox):
    case = open_case(s0)
    mailoutbox.clear()

    done, refused = race(lambda i: services.case_comment(case=case.pk, actor=user(agent.pk),
                                                         comment="We are on it", customer_visible=True), threads=3)

    assert refused == []
    assert len({event.pk for event in done}) == 1
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.COMMENT).count() == 1
    assert len(mailoutbox) == 1
