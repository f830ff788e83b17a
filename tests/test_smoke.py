from decimal import Decimal

from cases import services
from cases.states import State
from tests.conftest import at, make_order


def test_it_approves_and_pays_within_the_window(s0, agent, manager, mailoutbox, django_capture_on_commit_callbacks):
    order = make_order(s0)
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_create(order=order, reason="other", requested_at=at("2026-01-02 09:00"),
                                    now=at("2026-01-02 09:00"))
        case = services.case_approve(case=case, actor=agent, now=at("2026-01-02 10:00"))
        case = services.case_pay(case=case, actor=manager, reference="re_123", now=at("2026-01-03 10:00"))
    assert case.state == State.PAID
    assert case.payout.amount == Decimal("59.99")
    order.refresh_from_db()
    assert order.refunded_amount == Decimal("59.99")
    assert [m.subject.split("] ")[1] for m in mailoutbox] == [
        "We received your request", "Your refund is approved", "Your refund has been sent"]
    assert all(m.from_email == "IPTV Smarters Pro <support@iptvsmarterspro.org>" for m in mailoutbox)
    assert list(case.events.values_list("kind", "transition")) == [
        ("created", ""), ("assigned", ""), ("transition", "approve"), ("transition", "pay")]
