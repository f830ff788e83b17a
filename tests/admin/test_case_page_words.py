"""The case page offers only what the services allow, says a paid case is paid, and keeps long input in bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import services
from cases.models import CaseEvent, CaseLink, OutboxMessage, RefundCase
from cases.services.base import MAX_NOTE_LENGTH
from core.errors import CaseActionError
from tests.admin.conftest import act_url, case_url, client_for, messages_of, open_case
from tests.conftest import make_order

# Everything, the session and the user included: the session, the user, the case (with whether it has
# evidence, portal links and e-mails), the policy version, its clauses, the customer's other orders
# and cases (one query), the history and the assignable staff; for someone not a superuser, their
# permissions (one query); and one for each list the case has: evidence, portal links, e-mails. One
# more when the order has chargebacks; one asking whether the case's own policy has a clause before a
# blocked reason cites it (never another storefront's). Fixed, whatever the sizes.
PAGE_QUERY_BUDGET = 9  # a superuser on a case with none of those lists, as the million-case bench opens one
BUSY_PAGE_QUERY_BUDGET = 11  # a manager on a paid case with its links and e-mails


def _post(client, case, action: str, data: dict):
    payload = {f"{action}-expected_state": case.state, **{f"{action}-{k}": v for k, v in data.items()}}
    return client.post(act_url(case, action), payload, follow=True)


def _blocked(response) -> dict[str, str]:
    return {o.name: o.error.message for o in response.context["blocked"]}


def test_it_lists_extend_as_blocked_on_an_undelivered_order(s0, agent):
    # A never-delivered order can claim no outage (S0-OUTAGE's bound), so nothing is offered to extend.
    case = open_case(s0, reason="server_outage", outage_hours=Decimal("0"), order_kwargs={"delivered_at": None})
    response = client_for(agent).get(case_url(case))
    assert "extend" not in [card.option.name for card in response.context["actions"]]
    reason = _blocked(response)["extend"]
    assert "48 h or less" in reason or "S0-NO-INTERMITTENT" in reason
    # The service refuses with the same sentence.
    with pytest.raises(CaseActionError) as refused:
        services.case_extend(case=case, actor=agent, bonus_days=0)
    assert reason in refused.value.message


def test_it_shows_evidence_upload_as_blocked_on_a_closed_case(s0, agent):
    case = open_case(s0, reason="other")
    services.case_withdraw(case=case, actor=agent, note="Customer changed their mind.")
    html = client_for(agent).get(case_url(case)).content.decode()
    assert 'id="evidence-blocked"' in html
    assert "evidence can no longer be added" in html
    assert 'class="rb-evidence-form"' not in html


def test_it_shows_a_paid_case_as_paid_with_its_arrival_date(s0, agent, manager):
    case = open_case(s0, reason="other")
    services.case_approve(case=case, actor=agent)
    services.case_pay(case=case, actor=manager, reference="re_5")
    response = client_for(agent).get(case_url(case))
    html = response.content.decode()
    panel = html[html.index('id="decision-panel"'):html.index('id="actions"')]
    assert "Paid" in panel and "Deny" not in panel
    assert "rb-tone-go" in html[html.index("rb-decision"):][:200] or response.context["decision_style"] == "go"
    assert RefundCase.objects.get(pk=case.pk).payout.expected_by.strftime("%-d %b %Y") in panel


def test_it_sends_the_history_button_to_the_case_timeline(s0, agent):
    case = open_case(s0, reason="other")
    response = client_for(agent).get(case_url(case, "history"))
    assert response.status_code == 302
    assert response["Location"] == case_url(case) + "#timeline"


def test_it_shows_the_history_newest_first(s0, agent):
    case = open_case(s0, reason="other")
    services.case_comment(case=case, actor=agent, comment="First note.")
    services.case_comment(case=case, actor=agent, comment="Second note.")
    timeline = client_for(agent).get(case_url(case)).content.decode().split('id="timeline"')[1]
    assert timeline.index("Second note.") < timeline.index("First note.")


def test_it_refuses_an_overlong_comment_with_a_clear_message(s0, agent):
    case = open_case(s0, reason="other")
    response = client_for(agent).post(case_url(case, "comment"), {"comment": "x" * (MAX_NOTE_LENGTH + 1)}, follow=True)
    assert any(f"at most {MAX_NOTE_LENGTH} characters" in m for m in messages_of(response))
    assert not CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.COMMENT).exists()
    with pytest.raises(CaseActionError, match="too long"):
        services.case_comment(case=case, actor=agent, comment="x" * (MAX_NOTE_LENGTH + 1))


def test_it_refuses_an_overlong_note_on_a_transition(s0, agent):
    case = open_case(s0, reason="other")
    response = _post(client_for(agent), case, "withdraw", {"note": "y" * (MAX_NOTE_LENGTH + 1)})
    assert any(f"at most {MAX_NOTE_LENGTH} characters" in m for m in messages_of(response))
    assert RefundCase.objects.get(pk=case.pk).state == "requested"
    with pytest.raises(CaseActionError, match="too long"):
        services.case_withdraw(case=case, actor=agent, note="y" * (MAX_NOTE_LENGTH + 1))
    assert RefundCase.objects.get(pk=case.pk).state == "requested"


def test_it_wraps_long_unbroken_words_on_the_case_page(s0, agent):
    css = open("cases/static/cases/admin.css").read()
    assert "overflow-wrap: anywhere" in css
    assert ".rb-description" in css.split("overflow-wrap: anywhere")[0].rsplit("}", 1)[-1]


def test_it_loads_the_case_page_in_a_bounded_number_of_queries(s0, agent, manager):
    case = open_case(s0, reason="other")
    services.case_comment(case=case, actor=agent, comment="Note.")
    services.case_approve(case=case, actor=agent)
    services.case_pay(case=case, actor=manager, reference="re_q")
    client = client_for(manager)
    client.get(case_url(case))  # warm the session and content types
    with CaptureQueriesContext(connection) as queries:
        assert client.get(case_url(case)).status_code == 200
    sql = [q["sql"] for q in queries.captured_queries]
    case_loads = [q for q in sql if q.startswith('SELECT "cases_refundcase"') and "NOT" not in q
                  and f'"cases_refundcase"."id" = {case.pk}' in q]
    assert len(case_loads) == 1, case_loads
    assert len(sql) <= BUSY_PAGE_QUERY_BUDGET, "\n".join(sql)


def test_it_loads_a_quiet_case_page_in_eight_queries_with_the_session_and_the_user(s0, admin_user):
    """The case as the million-case bench opens it: a customer with other orders and cases, no mail yet."""
    case = open_case(s0, reason="other", order_kwargs={"email": "twice@example.com"})
    other = make_order(s0, email="twice@example.com")
    RefundCase.objects.create(order=other, reason="other", requested_at=case.requested_at)
    # What the bench's bulk-built cases lack (the acknowledgement and its link): none of those lists.
    OutboxMessage.objects.filter(case=case).delete()
    CaseLink.objects.filter(case=case).delete()
    client = client_for(admin_user)
    client.get(case_url(case))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(case_url(case))

    assert response.status_code == 200
    assert other.number in response.content.decode()
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) <= PAGE_QUERY_BUDGET, "\n".join(sql)



def test_it_shows_the_customers_history_across_storefronts(s0, s1, agent):
    from cases.services.chargebacks import chargeback_record

    earlier = open_case(s1, reason="changed_mind", order_kwargs={"email": "same@example.com", "refunded": "10.00"})
    chargeback_record(order=earlier.order, amount=Decimal("5.00"), opened_at=earlier.requested_at,
                      actor=agent)
    case = open_case(s0, reason="other", order_kwargs={"email": "same@example.com"})
    stranger = open_case(s0, reason="other", order_kwargs={"email": "other@example.com"})
    html = client_for(agent).get(case_url(case)).content.decode()
    history = html[html.index('id="customer-history"'):]
    assert earlier.number in history and earlier.order.number in history
    assert "10.00 USD refunded" in history
    assert "5.00 USD on" in history, history
    assert stranger.number not in history and stranger.order.number not in history


def test_it_renders_clause_markup_escaped_and_never_raw(s0, agent):
    from policies.models import Clause

    Clause.objects.filter(clause_id="S0-WINDOW").update(summary="Ask **within 48 h** of `purchase` <script>x</script>")
    case = open_case(s0, reason="other")
    html = client_for(agent).get(case_url(case)).content.decode()
    panel = html[html.index('id="decision-panel"'):html.index('id="actions"')]
    assert "<strong>within 48 h</strong> of <code>purchase</code>" in panel
    assert "**" not in panel and "`" not in panel
    assert "<script>x" not in panel and "&lt;script&gt;" in panel


def test_it_writes_the_history_in_words_without_codes_or_dicts(s0, agent):
    case = open_case(s0, reason="other")
    services.case_approve(case=case, actor=agent)
    CaseEvent.objects.create(case=case, kind=CaseEvent.Kind.COMMENT, actor_label="system",
                             data={"limits": {"bonus_days": 3, "lost_days": 2}})
    timeline = client_for(agent).get(case_url(case)).content.decode().split('id="timeline"')[1]
    assert "Approve refund" in timeline and "Requested → Approved" in timeline
    assert "Decision: Full refund" in timeline
    assert "full_refund" not in timeline and "{" not in timeline.split("rb-comment-form")[0]
    # PostgreSQL's jsonb reorders keys; either order reads as words.
    assert "bonus days 3, lost days 2" in timeline or "lost days 2, bonus days 3" in timeline


def test_it_gives_blocked_reasons_in_words_not_outcome_codes(s0, agent):
    case = open_case(s0, reason="other")
    reasons = _blocked(client_for(agent).get(case_url(case)))
    assert "full refund" in reasons["start_fix"] and "full_refund" not in " ".join(reasons.values())
