"""The dashboard's numbers equal direct queries on a known set of cases, and each links to exactly them."""

from __future__ import annotations

import re
import statistics
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.db.models import F, Sum
from django.urls import reverse

from cases.models import Payout, RefundCase
from cases.states import CLOSED_STATES, OPEN_STATES, State
from reports.dashboard import build_dashboard, week_starts
from tests.admin.conftest import client_for
from tests.conftest import make_user
from tests.dashboard.conftest import stored_case

pytestmark = pytest.mark.django_db


def listed(client, url: str) -> set[int]:
    """The case ids the case list shows at ``url`` (the list pages by 50; the data set is smaller)."""
    response = client.get(url)
    assert response.status_code == 200, url
    changelist = response.context["cl"]
    assert changelist.result_count <= changelist.list_per_page
    return {case.pk for case in changelist.result_list}


def test_it_counts_open_cases_by_state_and_storefront_and_the_overdue(known_cases, manager, now, s0, s1):
    board = build_dashboard(now=now)
    client = client_for(manager)
    rows = {name: (figures, total, late) for name, figures, total, late in board.open_by_storefront}
    for storefront in (s0, s1):
        figures, total, late = rows[storefront.name]
        open_here = RefundCase.objects.filter(order__storefront=storefront, state__in=OPEN_STATES)
        for (state, _), figure in zip(board.states, figures):
            expected = set(open_here.filter(state=state).values_list("pk", flat=True))
            assert figure.value == len(expected)
            assert listed(client, figure.url) == expected
        assert total.value == open_here.count()
        assert listed(client, total.url) == set(open_here.values_list("pk", flat=True))
        overdue = set(open_here.filter(next_deadline__lt=now).values_list("pk", flat=True))
        assert late.value == len(overdue)
        assert listed(client, late.url) == overdue
    assert rows[s0.name][1].value == 2 and rows[s0.name][2].value == 1
    assert rows[s1.name][1].value == 2 and rows[s1.name][2].value == 1  # the statutory approval is open too


def test_it_counts_cases_opened_and_closed_per_week(known_cases, manager, now):
    board = build_dashboard(now=now)
    client = client_for(manager)
    weeks = week_starts(now)
    for i, week in enumerate(weeks):
        end = week + timedelta(weeks=1)
        opened = set(RefundCase.objects.filter(requested_at__gte=week, requested_at__lt=end).values_list("pk", flat=True))
        closed = set(RefundCase.objects.filter(state__in=CLOSED_STATES, decided_at__gte=week, decided_at__lt=end)
                     .values_list("pk", flat=True))
        assert board.opened.figures[i].value == len(opened)
        assert board.closed.figures[i].value == len(closed)
        assert listed(client, board.closed.figures[i].url) == closed
        if opened:
            assert listed(client, board.opened.figures[i].url) == opened
    assert sum(board.closed.values) == 5  # the denial before the period is not counted
    assert board.closed.values[-2] == 3  # two payouts and the fix, the week before this one


def test_it_sums_approved_and_paid_refunds_per_week_and_currency(known_cases, manager, now):
    board = build_dashboard(now=now)
    client = client_for(manager)
    weeks = week_starts(now)
    approved = {s.label: s for s in board.approved}
    paid = {s.label: s for s in board.paid}
    assert sorted(approved) == ["EUR", "USD"] and sorted(paid) == ["EUR", "USD"]
    for i, week in enumerate(weeks):
        end = week + timedelta(weeks=1)
        for currency in ("USD", "EUR"):
            expected = RefundCase.objects.filter(
                approved_at__gte=week, approved_at__lt=end, approval_cancelled_at__isnull=True,
                order__currency=currency,
            ).aggregate(total=Sum("approved_amount"))["total"] or Decimal("0")
            assert approved[currency].figures[i].value == expected
            expected_paid = Payout.objects.filter(
                paid_at__gte=week, paid_at__lt=end, currency=currency
            ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
            assert paid[currency].figures[i].value == expected_paid
        # The link lists the cases whose approvals (of any currency) or payouts make up that week.
        in_week = set(RefundCase.objects.filter(approved_at__gte=week, approved_at__lt=end,
                                                approval_cancelled_at__isnull=True).values_list("pk", flat=True))
        assert listed(client, approved["USD"].figures[i].url) == in_week
        paid_cases = set(Payout.objects.filter(paid_at__gte=week, paid_at__lt=end).values_list("case_id", flat=True))
        assert listed(client, paid["USD"].figures[i].url) == paid_cases
    assert sum(paid["USD"].values) == Decimal("40.00") and sum(paid["EUR"].values) == Decimal("25.50")
    # The withdrawn approval of 99.00 counts nowhere.
    assert sum(approved["USD"].values) == Decimal("50.00")


def test_it_gives_the_refund_rate_per_reason_over_the_closed_cases(known_cases, manager, now):
    board = build_dashboard(now=now)
    client = client_for(manager)
    rates = {label: (paid, closed, rate) for label, paid, closed, rate in board.refund_rate}
    assert set(rates) == {"Other", "Technical issue", "Changed mind"}
    paid, closed, rate = rates["Technical issue"]
    assert (paid.value, closed.value, rate) == (1, 2, 0.5)
    assert listed(client, paid.url) == {known_cases["paid_eur"].pk}
    assert listed(client, closed.url) == {known_cases["paid_eur"].pk, known_cases["resolved"].pk}
    paid, closed, rate = rates["Changed mind"]
    assert (paid.value, closed.value, rate) == (0, 1, 0.0)  # the old denial is outside the period
    assert listed(client, closed.url) == {known_cases["denied"].pk}
    paid, closed, rate = rates["Other"]
    assert (paid.value, closed.value) == (1, 2)


def test_it_gives_the_median_time_to_decision_per_week(known_cases, now):
    board = build_dashboard(now=now)
    weeks = week_starts(now)
    for i, week in enumerate(weeks):
        spans = [
            (decided - requested).total_seconds() / 3600
            for decided, requested in RefundCase.objects.filter(
                state__in=CLOSED_STATES, decided_at__gte=week, decided_at__lt=week + timedelta(weeks=1)
            ).values_list("decided_at", "requested_at")
        ]
        expected = round(statistics.median(spans), 1) if spans else None
        assert board.median_hours.figures[i].value == expected
    # The week before this one: 10 h (fix), 24 h (USD payout), 7 days (EUR payout).
    assert board.median_hours.values[-2] == 24.0


def test_it_counts_statutory_overrides(known_cases, manager, now):
    board = build_dashboard(now=now)
    assert sum(board.statutory.values) == 1
    week = next(f for f in board.statutory.figures if f.value)
    assert listed(client_for(manager), week.url) == {known_cases["statutory"].pk}


def test_it_shows_the_dashboard_to_managers_only(known_cases, manager, agent, outsider):
    index = reverse("admin:index")
    page = client_for(manager).get(index)
    assert b'id="dashboard"' in page.content
    assert b'id="rb-dashboard-data"' in page.content
    for user in (agent, outsider):
        assert b'id="dashboard"' not in client_for(user).get(index).content
    superuser = make_user("root", is_superuser=True)
    assert b'id="dashboard"' in client_for(superuser).get(index).content


def test_it_keeps_its_script_out_of_the_page(known_cases, manager):
    """CSP: the charts' code is a static file and their data a JSON script element, never inline code."""
    content = client_for(manager).get(reverse("admin:index")).content.decode()
    section = content[content.index('id="dashboard"'):]
    scripts = section.split("<script")[1:]
    assert len(scripts) == 3
    assert 'type="application/json"' in scripts[0]
    for script in scripts[1:]:
        head = script.split(">", 1)[0]
        assert "src=" in head and urlsplit(head.split('src="')[1].split('"')[0]).netloc == ""


def test_it_reads_the_dashboard_in_a_fixed_number_of_queries(known_cases, django_assert_num_queries, now):
    # Storefronts, open cases, opened, closed with their medians, approved, paid, reasons, overrides;
    # SQLite reads the spans for the medians in one more.
    with django_assert_num_queries(8 if connection.vendor == "postgresql" else 9):
        build_dashboard(now=now)


def test_it_counts_a_case_at_the_very_start_of_a_week_in_that_week(s0, now):
    weeks = week_starts(now)
    on_the_hour = stored_case(s0, state=State.DENIED, requested_at=weeks[-2], decided_at=weeks[-1])
    just_before = stored_case(s0, state=State.DENIED, requested_at=weeks[-2] - timedelta(microseconds=1),
                              decided_at=weeks[-1] - timedelta(microseconds=1))
    board = build_dashboard(now=now)
    assert board.opened.values[-2:] == [1, 0] and board.opened.values[-3] == 1
    assert board.closed.values[-2:] == [1, 1]
    assert {on_the_hour.pk, just_before.pk} == set(RefundCase.objects.values_list("pk", flat=True))


def test_it_counts_by_the_cases_own_storefront_and_currency_equal_to_the_orders(known_cases):
    assert not RefundCase.objects.exclude(storefront=F("order__storefront")).exists()
    assert not RefundCase.objects.exclude(currency=F("order__currency")).exists()


def test_it_totals_every_column_of_the_open_cases_table(known_cases, manager, now):
    """The "All" row has a figure under every heading, open and overdue included, each a link to its cases."""
    client = client_for(manager)
    board = build_dashboard(now=now)
    open_now = RefundCase.objects.filter(state__in=OPEN_STATES)
    assert board.open_total.value == open_now.count()
    assert listed(client, board.open_total.url) == set(open_now.values_list("pk", flat=True))
    overdue = set(open_now.filter(next_deadline__lt=now).values_list("pk", flat=True))
    assert board.overdue_total.value == len(overdue) == 2
    assert listed(client, board.overdue_total.url) == overdue

    content = client.get(reverse("admin:index")).content.decode()
    table = content[content.index('id="dash-open"'):].split("</table>")[0]
    headings = table.split("</thead>")[0].count("<th ")
    totals = table.split("<tfoot>")[1].split("</tfoot>")[0]
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", totals, re.S)
    assert len(cells) == headings
    assert all(re.search(r">\d+</a>", cell) for cell in cells[1:]), cells
