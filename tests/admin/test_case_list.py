"""The case list: columns, search, filters, and a query count that does not grow with the page."""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import services
from cases.models import RefundCase
from tests.admin.conftest import case_url, client_for, open_case


def listed(response) -> set[str]:
    return {case.number for case in response.context["cl"].result_list}


def test_it_renders_the_list_with_badges_amounts_and_assignees(s0, s1, agent, manager, changelist_url):
    approved = open_case(s0, reason="other", order_kwargs={"amount": "40.00"})
    services.case_approve(case=approved, actor=agent, amount="25.00")
    pending = open_case(s1, reason="not_delivered", assignee=agent, order_kwargs={"delivered_at": None,
                                                                                   "currency": "EUR"})
    for user in (agent, manager):
        response = client_for(user).get(changelist_url)
        assert response.status_code == 200
        html = response.content.decode()
        assert 'class="rb-badge rb-state-approved"' in html and 'class="rb-badge rb-state-requested"' in html
        assert "25.00 USD" in html  # approved amount wins over the decision
        assert "59.99 EUR" in html  # the decision snapshot's amount, in its currency
        assert "Smarters Pro" in html and "IPTV Smarters Pro" in html
        assert "alice" in html
        assert listed(response) == {approved.number, pending.number}


def test_it_flags_overdue_and_flagged_cases(s0, agent, changelist_url):
    late = open_case(s0, reason="technical_issue")
    services.case_start_fix(case=late, actor=agent, now=timezone.now() - timedelta(hours=50))
    flagged = open_case(s0, reason="other")
    RefundCase.objects.filter(pk=flagged.pk).update(flagged=True, flag_reason="Customer sent evidence")
    on_time = open_case(s0, reason="other")
    client = client_for(agent)
    html = client.get(changelist_url).content.decode()
    # Late is overdue; flagged is only flagged (amber), with the reason, not "Overdue".
    assert html.count('class="rb-overdue"') == 1
    assert html.count('<span class="rb-flagged" title="Customer sent evidence">Flagged</span>') == 1
    assert "Customer sent evidence" in html
    late_page = client.get(case_url(late)).content.decode()
    assert 'class="rb-overdue"' in late_page and 'class="rb-flagged"' not in late_page
    flagged_page = client.get(case_url(flagged)).content.decode()
    assert 'class="rb-overdue"' not in flagged_page
    assert '<span class="rb-flagged" title="Customer sent evidence">Flagged</span>' in flagged_page
    assert listed(client.get(changelist_url, {"overdue": "yes"})) == {late.number, flagged.number}
    assert listed(client.get(changelist_url, {"overdue": "no"})) == {on_time.number}


def test_it_searches_by_case_number_order_number_and_email(s0, agent, changelist_url):
    target = open_case(s0, reason="other", order_kwargs={"email": "jane.doe@example.com"})
    other = open_case(s0, reason="other")
    client = client_for(agent)
    for term in (target.number, target.number.lower(), target.order.number, f"#{target.order.number}",
                 "jane.doe@example.com", "JANE.DOE"):
        assert listed(client.get(changelist_url, {"q": term})) == {target.number}, term
    assert listed(client.get(changelist_url, {"q": other.order.number})) == {other.number}
    assert listed(client.get(changelist_url, {"q": "nobody@nowhere"})) == set()


def test_it_filters_by_state_storefront_and_reason(s0, s1, agent, changelist_url):
    s0_tech = open_case(s0, reason="technical_issue")
    s0_other = open_case(s0, reason="other")
    services.case_deny(case=s0_other, actor=agent, reason="abuse", note="Abuse.")
    s1_case = open_case(s1, reason="not_delivered", order_kwargs={"delivered_at": None})
    client = client_for(agent)
    assert listed(client.get(changelist_url, {"state": "denied"})) == {s0_other.number}
    assert listed(client.get(changelist_url, {"state": "open"})) == {s0_tech.number, s1_case.number}
    assert listed(client.get(changelist_url, {"storefront__id__exact": s1.pk})) == {s1_case.number}
    assert listed(client.get(changelist_url, {"reason": "technical_issue"})) == {s0_tech.number}


def test_it_filters_cases_assigned_to_me(s0, agent, agent2, changelist_url):
    mine = open_case(s0, reason="other", assignee=agent)
    theirs = open_case(s0, reason="other", assignee=agent2)
    nobodys = open_case(s0, reason="other")
    client = client_for(agent)
    assert listed(client.get(changelist_url, {"assigned": "me"})) == {mine.number}
    assert listed(client_for(agent2).get(changelist_url, {"assigned": "me"})) == {theirs.number}
    assert listed(client.get(changelist_url, {"assigned": "nobody"})) == {nobodys.number}
    assert listed(client.get(changelist_url, {"assigned": "others"})) == {theirs.number}


def _list_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_it_runs_the_same_number_of_queries_for_3_and_30_cases(s0, s1, agent, agent2, changelist_url):
    client = client_for(agent)
    for n in range(3):
        open_case(s0 if n % 2 else s1, reason="other", assignee=agent if n % 2 else agent2)
    client.get(changelist_url)  # warm the session and permission caches
    few = _list_queries(client, changelist_url)
    for n in range(27):
        case = open_case(s0 if n % 2 else s1, reason="other", assignee=agent if n % 2 else agent2)
        if n % 2 and n % 3 == 0:  # some S0 cases approved: amounts from two places
            services.case_approve(case=case, actor=agent2)
    assert RefundCase.objects.count() == 30
    many = _list_queries(client, changelist_url)
    assert few == many
    filtered = _list_queries(client, changelist_url + "?overdue=no&assigned=me&state=open")
    assert filtered <= many + 1


# --- the help-desk habits: default queue, managers' queue, partial numbers -------------------


def test_it_opens_on_the_open_cases_nearest_deadline_first(s0, agent, changelist_url):
    closed = open_case(s0, reason="other")
    services.case_deny(case=closed, actor=agent, reason="abuse", note="Same card, five orders.")
    waiting = open_case(s0, reason="other")
    soon = open_case(s0, reason="technical_issue")
    services.case_start_fix(case=soon, actor=agent, now=timezone.now() - timedelta(hours=40))
    later_fix = open_case(s0, reason="technical_issue")
    services.case_start_fix(case=later_fix, actor=agent, now=timezone.now() - timedelta(hours=2))
    client = client_for(agent)

    response = client.get(changelist_url)

    assert [c.number for c in response.context["cl"].result_list] == [soon.number, later_fix.number, waiting.number]
    everything = client.get(changelist_url, {"state": "all"})
    assert listed(everything) == {closed.number, waiting.number, soon.number, later_fix.number}
    assert "?state=all" in response.content.decode()


def test_it_queues_the_cases_that_need_a_manager_with_the_count_on_the_index(s0, s1, agent, manager,
                                                                              changelist_url):
    discretionary = open_case(s1, reason="technical_issue")
    assert discretionary.decision["outcome"] == "manager_discretion"
    decided_by_policy = open_case(s0, reason="other")
    settled = open_case(s1, reason="technical_issue")
    services.case_deny(case=settled, actor=manager, reason="service_used", note="Streams fine in our logs.")
    client = client_for(manager)

    queue = client.get(changelist_url, {"manager": "yes"})
    index = client.get(reverse("admin:index")).content.decode()

    assert RefundCase.objects.get(pk=discretionary.pk).needs_manager
    assert not RefundCase.objects.get(pk=decided_by_policy.pk).needs_manager
    assert listed(queue) == {discretionary.number}
    assert re.search(r'\?manager=yes&amp;state=open">Needs a manager</a> <span class="rb-count">1</span>', index)


def test_it_finds_a_case_by_part_of_its_number(s0, agent, changelist_url):
    target = open_case(s0, reason="other")
    open_case(s0, reason="other")
    client = client_for(agent)
    fragment = target.number.removeprefix("RC-")[2:6]

    for term in (fragment, fragment.lower(), f"rc-{target.number[3:9].lower()}", target.number):
        assert target.number in listed(client.get(changelist_url, {"q": term})), term


def test_it_queues_approved_cases_waiting_to_be_paid_oldest_first_with_the_approver(s0, agent, agent2, manager,
                                                                                     changelist_url):
    older, newer = open_case(s0, reason="other"), open_case(s0, reason="other")
    services.case_approve(case=older, actor=agent, now=timezone.now() - timedelta(hours=5))
    services.case_approve(case=newer, actor=agent2, now=timezone.now() - timedelta(hours=1))
    paid = open_case(s0, reason="other")
    services.case_approve(case=paid, actor=agent, now=timezone.now() - timedelta(hours=9))
    services.case_pay(case=paid, actor=manager, reference="re_1", method="card")
    client = client_for(manager)

    queue = client.get(changelist_url, {"waiting": "payment", "state": "approved"})
    index = client.get(reverse("admin:index")).content.decode()

    assert [c.number for c in queue.context["cl"].result_list] == [older.number, newer.number]
    html = queue.content.decode()
    assert "approved by alice" in html and "approved by arthur" in html
    assert re.search(r'\?waiting=payment&amp;state=approved">Approved, waiting to be paid</a> '
                     r'<span class="rb-count">2</span>', index)
    assert "Approved, waiting to be paid" not in client_for(agent).get(reverse("admin:index")).content.decode()


def test_it_queues_cases_with_a_new_customer_message_oldest_first(s0, agent, changelist_url):
    later, earlier, quiet = open_case(s0), open_case(s0), open_case(s0)
    RefundCase.objects.filter(pk=earlier.pk).update(customer_wrote_at=timezone.now() - timedelta(hours=3))
    RefundCase.objects.filter(pk=later.pk).update(customer_wrote_at=timezone.now() - timedelta(hours=1))
    client = client_for(agent)

    queue = client.get(changelist_url, {"waiting": "message", "state": "all"})

    assert [c.number for c in queue.context["cl"].result_list] == [earlier.number, later.number]
    assert "New message" in queue.content.decode()
    assert quiet.number not in {c.number for c in queue.context["cl"].result_list}
    assert re.search(r'New customer messages</a> <span class="rb-count">2</span>',
                     client.get(reverse("admin:index")).content.decode())
