"""Actions posted from the case page: each goes through the services and reports back in words."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from cases import services
from cases.models import CaseEvent, RefundCase
from tests.admin.conftest import act_url, case_url, client_for, messages_of, open_case, recent


def post_action(client, case, action: str, data: dict | None = None, *, expected_state: str | None = None):
    payload = {f"{action}-expected_state": expected_state or case.state}
    payload.update({f"{action}-{key}": value for key, value in (data or {}).items()})
    return client.post(act_url(case, action), payload, follow=True)


def snapshot(case: RefundCase) -> tuple:
    fresh = RefundCase.objects.get(pk=case.pk)
    events = list(CaseEvent.objects.filter(case=case).values_list("pk", "kind", "transition"))
    return fresh.state, fresh.approved_amount, fresh.updated_at, events


def test_it_approves_from_the_case_page(s0, agent):
    case = open_case(s0, reason="other", order_kwargs={"amount": "40.00"})
    response = post_action(client_for(agent), case, "approve", {"amount": "30.00", "note": "Partial goodwill."})
    assert response.redirect_chain[-1][0] == case_url(case)
    case.refresh_from_db()
    assert case.state == "approved"
    assert case.approved_amount == Decimal("30.00") and case.approved_by.username == "alice"
    assert any("is now approved" in m for m in messages_of(response))
    assert case.events.filter(transition="approve", comment="Partial goodwill.").exists()


def test_it_refuses_a_wrong_role_post_and_changes_nothing(s1, agent):
    case = open_case(s1, reason="other", order_kwargs={"purchased_at": None})
    before = snapshot(case)
    response = post_action(client_for(agent), case, "approve", {"amount": "10.00", "note": "Please."})
    assert response.status_code == 200
    assert snapshot(case) == before
    assert any("Only a support manager" in m for m in messages_of(response))


@pytest.mark.clause("S0-FIX-FIRST")
def test_it_refuses_a_post_the_policy_blocks_citing_the_clause(s0, agent):
    case = open_case(s0, reason="technical_issue")
    before = snapshot(case)
    response = post_action(client_for(agent), case, "approve", {"amount": "10.00"})
    assert snapshot(case) == before
    assert any("S0-FIX-FIRST" in m for m in messages_of(response))


def test_it_says_already_changed_when_the_page_was_stale(s0, agent, agent2):
    case = open_case(s0, reason="other")
    post_action(client_for(agent2), case, "deny", {"reason": "other", "note": "Customer abuse."})
    before = snapshot(case)
    response = post_action(client_for(agent), case, "approve", {"amount": "1.00"}, expected_state="requested")
    assert snapshot(case) == before
    assert any("Someone else already changed this case (it is now denied)" in m for m in messages_of(response))


def test_it_says_already_changed_for_actions_whose_service_pins_the_state(s0, agent, agent2):
    case = open_case(s0, reason="technical_issue")
    post_action(client_for(agent2), case, "start_fix", {"note": "Resetting the line."})
    before = snapshot(case)
    response = post_action(client_for(agent), case, "start_fix", {}, expected_state="requested")
    assert snapshot(case) == before
    assert any("Someone else already changed this case" in m for m in messages_of(response))


def test_it_turns_bad_input_into_a_message_and_keeps_what_was_typed(s0, agent):
    case = open_case(s0, reason="other")
    before = snapshot(case)
    client = client_for(agent)
    response = post_action(client, case, "approve", {"amount": "abc", "note": "keep me"})
    assert response.status_code == 200
    assert snapshot(case) == before
    assert any(m.startswith("Amount:") for m in messages_of(response))
    form = next(card.form for card in response.context["actions"] if card.option.name == "approve")
    assert form["note"].value() == "keep me" and form.errors["amount"]
    # The kept input is shown once; the next visit starts clean.
    again = client.get(case_url(case))
    form = next(card.form for card in again.context["actions"] if card.option.name == "approve")
    assert not form.is_bound


def test_it_reports_an_amount_above_the_decision(s0, agent):
    case = open_case(s0, reason="other", order_kwargs={"amount": "20.00"})
    response = post_action(client_for(agent), case, "approve", {"amount": "25.00"})
    assert RefundCase.objects.get(pk=case.pk).state == "requested"
    assert any("above what the policy allows" in m for m in messages_of(response))


def test_it_never_fails_on_garbage_posts(s0, agent):
    case = open_case(s0, reason="other")
    client = client_for(agent)
    for action, data in [
        ("approve", {"amount": "1e999999"}), ("approve", {"amount": "-5"}), ("extend", {"bonus_days": "x"}),
        ("deny", {"reason": "nope"}), ("pay", {"reference": ""}), ("request_evidence", {"message": ""}),
    ]:
        response = post_action(client, case, action, data)
        assert response.status_code == 200, (action, data)
        assert messages_of(response), (action, data)
    assert client.post(act_url(case, "approve"), {}, follow=True).status_code == 200
    assert client.post(act_url(case, "no_such_action"), {}).status_code == 404
    assert client.post(act_url(case, "fix_window_expired"), {}).status_code == 404
    assert client.get(act_url(case, "approve")).status_code == 405
    assert RefundCase.objects.get(pk=case.pk).state == "requested"


def test_it_runs_the_fix_flow_and_evidence_request(s0, agent):
    case = open_case(s0, reason="technical_issue")
    client = client_for(agent)
    post_action(client, case, "start_fix", {"note": "Resetting the line."})
    case.refresh_from_db()
    assert case.state == "awaiting_fix" and case.fix_deadline is not None
    post_action(client, case, "fix_failed", {})
    case.refresh_from_db()
    assert case.state == "requested"
    post_action(client, case, "request_evidence", {"message": "Send a screenshot please."})
    case.refresh_from_db()
    assert case.state == "evidence_requested"
    assert case.events.filter(transition="request_evidence", comment="Send a screenshot please.").exists()


def test_it_denies_with_a_reason_and_requires_a_note_when_the_policy_would_refund(s0, agent):
    case = open_case(s0, reason="other")
    client = client_for(agent)
    response = post_action(client, case, "deny", {"reason": "abuse", "note": ""})
    assert RefundCase.objects.get(pk=case.pk).state == "requested"
    assert any("required" in m for m in messages_of(response))
    post_action(client, case, "deny", {"reason": "abuse", "note": "Third refund this month."})
    case.refresh_from_db()
    assert case.state == "denied" and case.deny_reason == "abuse"


@pytest.mark.clause("S1-SAME-METHOD")
def test_it_pays_with_the_orders_method_by_default_and_asks_why_for_another(s0, agent, manager):
    case = open_case(s0, reason="other", order_kwargs={"payment_method": "card"})
    post_action(client_for(agent), case, "approve", {"amount": "59.99"})
    case.refresh_from_db()
    client = client_for(manager)
    response = client.get(case_url(case))
    form = next(card.form for card in response.context["actions"] if card.option.name == "pay")
    assert form["method"].value() == "card"
    response = post_action(client, case, "pay", {"reference": "re_1", "method": "paypal", "method_note": ""})
    assert RefundCase.objects.get(pk=case.pk).state == "approved"
    messages = messages_of(response)
    assert any("why the original payment method is not used" in m for m in messages)
    assert not any("S1-" in m for m in messages)  # the clause is the other storefront's
    response = post_action(client, case, "pay", {"reference": "re_1", "method": "card"})
    case.refresh_from_db()
    assert case.state == "paid" and case.payout.reference == "re_1"
    assert "re_1" in response.content.decode()


# Bought four days ago, asked an hour ago: a 60-hour outage fits between delivery and request (S0-OUTAGE).
SINCE_OUTAGE = {"order_kwargs": {"purchased_at": recent(96)}, "requested_at": recent(1)}


def test_it_extends_a_long_outage_instead_of_refunding(s0, agent):
    case = open_case(s0, reason="server_outage", outage_hours=Decimal("60"), **SINCE_OUTAGE)
    post_action(client_for(agent), case, "extend", {"bonus_days": "3", "note": "Sorry."})
    case.refresh_from_db()
    assert case.state == "resolved"
    assert case.order.subscription.extension_days == 3 + 3


@pytest.mark.clause("S1-STATUTORY")
def test_it_approves_on_statutory_rights_for_a_manager_only(s1, agent, manager):
    case = open_case(s1, reason="changed_mind", order_kwargs={"purchased_at": None})
    response = post_action(client_for(agent), case, "approve_statutory", {"amount": "5.00", "basis": "EU law"})
    assert RefundCase.objects.get(pk=case.pk).state == "requested"
    assert any("S1-STATUTORY" in m for m in messages_of(response))
    post_action(client_for(manager), case, "approve_statutory", {"amount": "5.00", "basis": "EU law"})
    case.refresh_from_db()
    assert case.state == "approved" and case.statutory_override

    # Marked as an override wherever it is shown: the case page, the list, and a list filter.
    page = client_for(manager).get(case_url(case)).content.decode()
    assert "statutory override" in page and "EU law" in page
    listed = client_for(manager).get(reverse("admin:cases_refundcase_changelist") + "?statutory_override__exact=1")
    assert case.number in listed.content.decode()
    assert "5.00 USD <span class=\"rb-quiet\">statutory override by maria</span>" in listed.content.decode()
    plain = client_for(manager).get(reverse("admin:cases_refundcase_changelist") + "?statutory_override__exact=0")
    assert case.number not in plain.content.decode()


def test_it_withdraws_an_open_case(s0, agent):
    case = open_case(s0, reason="other")
    post_action(client_for(agent), case, "withdraw", {"note": "Customer found it works."})
    assert RefundCase.objects.get(pk=case.pk).state == "withdrawn"


def test_it_adds_internal_and_customer_comments(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    case = open_case(s0, reason="other")
    client = client_for(agent)
    client.post(case_url(case, "comment"), {"comment": "Internal only."}, follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(case_url(case, "comment"), {"comment": "We are on it.", "customer_visible": "on"})
    events = case.events.filter(kind="comment").order_by("id")
    assert [(e.comment, e.visibility) for e in events] == [("Internal only.", "internal"), ("We are on it.", "customer")]
    assert [m.to for m in mailoutbox] == [[case.order.customer.email]]
    response = client.post(case_url(case, "comment"), {"comment": "  "}, follow=True)
    assert any("Comment" in m for m in messages_of(response))
    assert case.events.filter(kind="comment").count() == 2


def test_it_assigns_through_the_service(s0, agent, agent2):
    case = open_case(s0, reason="other")
    client = client_for(agent)
    client.post(case_url(case, "assign"), {"assign_to_me": "1"})
    case.refresh_from_db()
    assert case.assignee == agent
    client.post(case_url(case, "assign"), {"assignee": str(agent2.pk)})
    case.refresh_from_db()
    assert case.assignee == agent2
    assert list(case.events.filter(kind="assigned").values_list("comment", flat=True)) == [
        "Assigned to alice", "Assigned to arthur"]
    response = client.post(case_url(case, "assign"), {"assignee": "999999"}, follow=True)
    assert messages_of(response) and RefundCase.objects.get(pk=case.pk).assignee == agent2


def test_it_refuses_actions_to_staff_without_case_permissions(s0, outsider):
    case = open_case(s0, reason="other")
    client = client_for(outsider)
    assert client.post(act_url(case, "approve"), {"approve-expected_state": "requested"}).status_code == 403
    assert client.post(case_url(case, "comment"), {"comment": "hi"}).status_code == 403
    assert RefundCase.objects.get(pk=case.pk).state == "requested"


def test_it_grants_as_many_bonus_days_from_the_page_as_the_service_allows(s0, manager):
    """3 lost days + the most bonus is over the storefront's 30-day limit: a manager's extension."""
    from cases.services import MAX_BONUS_DAYS

    case = open_case(s0, reason="server_outage", outage_hours=Decimal("60"), **SINCE_OUTAGE)
    client = client_for(manager)
    response = post_action(client, case, "extend", {"bonus_days": str(MAX_BONUS_DAYS + 1)})
    assert RefundCase.objects.get(pk=case.pk).state == "requested"
    form = next(card.form for card in response.context["actions"] if card.option.name == "extend")
    assert "bonus_days" in form.errors  # the rejected value is shown back next to its field
    post_action(client, case, "extend", {"bonus_days": str(MAX_BONUS_DAYS)})
    case.refresh_from_db()
    assert case.state == "resolved"
    assert case.order.subscription.extension_days == 3 + MAX_BONUS_DAYS


def test_it_offers_reopen_on_a_denied_case_and_reopens_it_with_the_note(s0, agent):
    from cases import services

    case = services.case_deny(case=open_case(s0, reason="setup_difficulty"), actor=agent,
                              reason="policy_exclusion")
    client = client_for(agent)

    page = client.get(case_url(case))
    assert "reopen" in [card.option.name for card in page.context["actions"]]

    post_action(client, case, "reopen", {"note": ""})
    assert RefundCase.objects.get(pk=case.pk).state == "denied"

    post_action(client, case, "reopen", {"note": "Customer replied: the app never installed"})
    stored = RefundCase.objects.get(pk=case.pk)
    assert stored.state == "requested"
    assert stored.events.filter(transition="reopen").get().comment == "Customer replied: the app never installed"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_reopens_one_of_two_closed_cases_of_an_order_clicked_at_once(s0, agent, agent2):
    """Two denied cases of one order reopened at the same instant: each passes "no other open case"
    under its own row lock; the second must say why it cannot, not crash or name a constraint."""
    from cases import services
    from tests.conftest import race

    first = open_case(s0, reason="changed_mind")
    first = services.case_deny(case=first, actor=agent, reason="policy_exclusion")
    second = services.case_create(order=first.order, reason="changed_mind", actor=None,
                                  requested_at=first.requested_at + timedelta(minutes=5))
    second = services.case_deny(case=second, actor=agent, reason="policy_exclusion")
    cases, people = [first, second], [agent, agent2]

    pages, _ = race(lambda i: post_action(client_for(people[i]), cases[i], "reopen",
                                          {"note": "The customer answered."}), threads=2)

    # The test client's captured contexts are shared between threads: read each page's own HTML.
    html = [page.content.decode() for page in pages]
    assert len([page for page in html if "Reopen: done." in page]) == 1
    assert len([page for page in html if "The order has another open case; work that one instead." in page]) == 1
    assert all("case_one_open_per_order" not in page for page in html)
    assert RefundCase.objects.filter(order=first.order, state="requested").count() == 1


def test_it_shows_the_approved_amount_currency_and_approver_on_the_pay_form(s1, agent, manager):
    case = open_case(s1, reason="not_delivered", order_kwargs={"delivered_at": None, "currency": "EUR"})
    services.case_approve(case=case, actor=agent, amount="12.50")

    page = client_for(manager).get(case_url(case)).content.decode()

    pay_form = page[page.index('data-action="pay"'):]
    pay_form = pay_form[:pay_form.index("</form>")]
    assert "Pay 12.50 EUR, as approved by alice" in pay_form
