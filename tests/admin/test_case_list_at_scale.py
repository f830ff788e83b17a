"""The case list's query shapes: one search box that says what it matched, honest counts, and a
query count per view that does not grow with the cases (run on SQLite and on PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import list_queries
from cases.list_queries import COUNT_CAP, CaseListPaginator, search_cases, shown_count
from cases.models import RefundCase
from cases.selectors import case_list_queryset
from orders.models import Customer, Order, email_domain
from tests.admin.conftest import client_for, open_case


def listed(response) -> set[str]:
    return {case.number for case in response.context["cl"].result_list}


def note(response) -> str:
    return response.context["cl"].search_note


EVERY_CUSTOMER = "customer"  # a part of every test customer's e-mail ("customerN@...") and name


LIST_VIEWS = [
    "",
    "?state=all",
    "?state=requested",
    "?manager=yes",
    "?reason=other",
    "?overdue=yes",
    "?overdue=no",
    "?assigned=me",
    "?assigned=nobody",
    "?assigned=others",
    "?statutory_override__exact=1",
    "?waiting=payment&state=approved",
    "?waiting=message&state=all",
    "?o=1",
    "?o=-2",
    "?o=3",
    "?o=-4",
    "?o=6",
    "?o=-8",
    "?state=all&p=2",
]


def queries_for(client, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("query", LIST_VIEWS)
def test_it_keeps_the_query_count_of_every_list_view_as_the_cases_grow(s0, s1, agent, changelist_url, query):
    client = client_for(agent)
    for n in range(3):
        open_case(s0 if n % 2 else s1, assignee=agent if n % 2 else None)
    few = queries_for(client, changelist_url + query)
    for n in range(60):
        open_case(s0 if n % 2 else s1, assignee=agent if n % 3 else None)
    many = queries_for(client, changelist_url + query)

    assert many <= few + 1, query  # +1: once past a page, the page's ids are read before its rows
    assert many <= 9, query


@pytest.mark.parametrize("term", ["{number}", "{code}", "{order}", "#{order}", "{email}", "{domain}", "@{domain}",
                                  "zzqzz"])
def test_it_keeps_the_query_count_of_a_search_as_the_cases_grow(s0, agent, changelist_url, term):
    client = client_for(agent)
    probe = open_case(s0)
    values = {"number": probe.number, "code": probe.number[3:], "order": probe.order.number,
              "email": probe.order.customer.email, "domain": probe.order.customer.email.split("@")[1]}
    url = f"{changelist_url}?q={term.format(**values).replace('#', '%23')}"
    few = queries_for(client, url)
    for _ in range(20):
        open_case(s0)
    assert queries_for(client, url) == few


def test_it_finds_an_exact_case_number_with_or_without_prefix_and_says_so(s0, agent, changelist_url):
    case, other = open_case(s0), open_case(s0)
    client = client_for(agent)
    for term in (case.number, case.number[3:], case.number.lower(), f"  {case.number[3:].lower()} "):
        response = client.get(changelist_url, {"q": term})
        assert listed(response) == {case.number}, term
        assert note(response).startswith("Exact case number"), term
    assert other.number not in listed(client.get(changelist_url, {"q": case.number}))


def test_it_finds_an_order_number_with_or_without_the_hash(s0, agent, changelist_url):
    case = open_case(s0)
    client = client_for(agent)
    for term in (case.order.number, f"#{case.order.number}"):
        response = client.get(changelist_url, {"q": term})
        assert listed(response) == {case.number}
        assert "order number" in note(response)


def test_it_finds_an_exact_email_whatever_its_case(s0, agent, changelist_url):
    case = open_case(s0)
    response = client_for(agent).get(changelist_url, {"q": case.order.customer.email.upper()})
    assert listed(response) == {case.number}
    assert "customer e-mail" in note(response)


def domain_cases(s0, s1) -> dict[str, set[str]]:
    """Cases at proton.me (two customers, one with two cases, one closed) and at look-alike domains."""
    at = {email: open_case(s0 if n % 2 else s1, order_kwargs={"email": email})
          for n, email in enumerate(["anna@proton.me", "Ben.Berg@PROTON.ME", "carla@notproton.me",
                                     "david@proton.me.uk", "proton.me@mail.example"])}
    again = open_case(s0, order_kwargs={"email": "anna@proton.me"})
    RefundCase.objects.filter(pk=again.pk).update(state="withdrawn", resolution="withdrawn")
    return {
        "proton.me": {at["anna@proton.me"].number, at["Ben.Berg@PROTON.ME"].number, again.number},
        "look-alikes": {at[e].number for e in ("carla@notproton.me", "david@proton.me.uk", "proton.me@mail.example")},
        "open": {at["anna@proton.me"].number, at["Ben.Berg@PROTON.ME"].number},
    }


def test_it_finds_the_cases_of_an_email_domain_whatever_its_case_and_says_so(s0, s1, agent, changelist_url):
    cases = domain_cases(s0, s1)
    client = client_for(agent)
    for term in ("proton.me", "@proton.me", " Proton.ME ", "@PROTON.me"):
        response = client.get(changelist_url, {"q": term})
        assert listed(response) == cases["proton.me"], term
        assert note(response) == f"Exact customer e-mail domain “{term.strip()}”.", term
        assert response.context["cl"].shown_count == "3"
    assert listed(client.get(changelist_url, {"q": "proton.me", "state": "open"})) == cases["open"]


def test_it_searches_parts_for_a_domain_no_customer_has(s0, s1, agent, changelist_url):
    cases = domain_cases(s0, s1)
    response = client_for(agent).get(changelist_url, {"q": "proton.m"})
    assert listed(response) == cases["proton.me"] | cases["look-alikes"]
    assert note(response).startswith("No exact case number, order number or e-mail “proton.m”")


def test_it_lists_an_order_number_and_an_email_domain_the_term_both_is(s0, s1, agent, changelist_url):
    cases = domain_cases(s0, s1)
    order = open_case(s0)
    Order.objects.filter(pk=order.order_id).update(number="PROTON.ME")
    response = client_for(agent).get(changelist_url, {"q": "proton.me"})
    assert listed(response) == cases["proton.me"] | {order.number}
    assert note(response) == "Exact order number or customer e-mail domain “proton.me”."


def test_it_counts_and_pages_a_domain_without_listing_its_cases(s0, s1, agent, changelist_url):
    cases = domain_cases(s0, s1)
    with CaptureQueriesContext(connection) as searching:
        found, search = search_cases(case_list_queryset().order_by("requested_at", "pk"), "proton.me")
    assert search.matched == ("customer e-mail domain",) and len(searching) == 1
    paginator = CaseListPaginator(found, 2)
    with CaptureQueriesContext(connection) as counting:
        assert paginator.count == 3
    # Counted up to the cap like the unsearched list: the domain's cases are never read as a list of ids.
    assert len(counting) == 1 and "LIMIT" in counting[0]["sql"].upper()
    with CaptureQueriesContext(connection) as paging:
        pages = [[c.number for c in paginator.page(n).object_list] for n in (1, 2)]
    assert sorted(sum(pages, [])) == sorted(cases["proton.me"])
    assert len(paging) == 2 * 2  # each page: its ids, then its rows


@pytest.mark.postgres
def test_it_finds_a_domains_customers_by_their_domain_index(s0):
    with connection.cursor() as cursor:
        # A few rows make any scan cheap; the plan is asked as it would be at a million customers.
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = Customer.objects.alias(domain=email_domain()).filter(domain="PROTON.ME").values("pk").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customer_email_domain" in plan, plan


def test_it_falls_back_to_parts_and_says_nothing_matched_exactly(s0, agent, changelist_url):
    case = open_case(s0)
    email = case.order.customer.email
    part = email.split("@")[0][-5:]
    response = client_for(agent).get(changelist_url, {"q": part})
    assert case.number in listed(response)
    assert note(response).startswith("No exact case number, order number or e-mail")
    assert "e-mail or name" in note(response)


def test_it_finds_a_closed_case_by_number_unless_a_state_is_chosen(s0, agent, changelist_url):
    case = open_case(s0)
    RefundCase.objects.filter(pk=case.pk).update(state="withdrawn", resolution="withdrawn")
    client = client_for(agent)
    assert listed(client.get(changelist_url, {"q": case.number})) == {case.number}
    assert listed(client.get(changelist_url, {"q": case.number, "state": "open"})) == set()


def test_it_answers_odd_search_input_without_an_error(s0, agent, changelist_url):
    open_case(s0)
    client = client_for(agent)
    for term in ("#", "@", "%", "_", "'; DROP TABLE cases_refundcase; --", "x" * 500, "RC-", "\u00e9\u00e8"):
        assert client.get(changelist_url, {"q": term}).status_code == 200, term


def test_it_counts_exactly_up_to_the_cap_and_shows_an_estimate_beyond():
    assert shown_count(12, approximate=False) == "12"
    assert shown_count(812_345, approximate=True) == "about 810,000"
    assert shown_count(COUNT_CAP + 1, approximate=True) == f"{COUNT_CAP:,}+"


def test_it_pages_by_ids_in_the_list_order(s0, agent):
    cases = [open_case(s0) for _ in range(7)]
    ordered = RefundCase.objects.order_by("-requested_at", "-pk")
    paginator = CaseListPaginator(ordered, 3)
    assert paginator.count == 7
    pages = [[c.number for c in paginator.page(n).object_list] for n in (1, 2, 3)]
    assert sum(pages, []) == [c.number for c in ordered]
    assert len(cases) == 7


def test_search_cases_gives_nothing_for_a_term_too_short_to_search(s0):
    open_case(s0)
    results, search = search_cases(RefundCase.objects.all(), "+")
    assert search.matched == () and search.partial == ()
    assert "too short" in search.note
    assert list(results) == []


def test_it_reads_a_page_of_a_partial_search_by_primary_key_without_searching_again(s0):
    cases = [open_case(s0) for _ in range(4)]
    part = EVERY_CUSTOMER
    with CaptureQueriesContext(connection) as searching:
        found, search = search_cases(case_list_queryset().order_by("requested_at", "pk"), part)
    assert search.partial
    assert len([q for q in searching.captured_queries if "LIKE" in q["sql"].upper()]) == 1
    with CaptureQueriesContext(connection) as queries:
        page = CaseListPaginator(found, 3).page(2)
    assert [c.number for c in page.object_list] == [cases[3].number]
    # The search read the matching ids once; the count, the page's ids and its rows go by id alone.
    assert not [q["sql"] for q in queries.captured_queries if "LIKE" in q["sql"].upper()]


def test_it_filters_by_subquery_when_a_part_matches_more_cases_than_it_lists(s0, monkeypatch):
    monkeypatch.setattr(list_queries, "PARTIAL_IDS_CAP", 2)
    cases = [open_case(s0) for _ in range(4)]
    part = EVERY_CUSTOMER
    found, search = search_cases(case_list_queryset().order_by("requested_at", "pk"), part)
    assert search.partial
    assert [c.number for c in found] == [c.number for c in cases]
    assert "LIKE" in str(found.query).upper()  # the ids were too many to list


def test_it_finds_nothing_for_a_part_that_matches_no_case(s0):
    open_case(s0)
    found, search = search_cases(case_list_queryset(), "nobody-at-all")
    assert search.partial and list(found) == [] and CaseListPaginator(found, 3).count == 0


def test_it_keeps_the_list_order_and_the_related_rows_when_reading_a_page_by_primary_key(s0, s1, agent):
    cases = [open_case(s0 if n % 2 else s1) for n in range(5)]
    ordered = case_list_queryset().order_by("requested_at", "pk")
    page = CaseListPaginator(ordered, 4).page(1)
    with CaptureQueriesContext(connection) as queries:
        shown = [(c.number, c.order.storefront.slug, c.order.customer.email) for c in page.object_list]
    assert [number for number, _, _ in shown] == [c.number for c in cases[:4]]
    assert [slug for _, slug, _ in shown] == [c.order.storefront.slug for c in cases[:4]]
    assert len(queries) == 0


def test_it_counts_a_partial_search_exactly_in_one_query(s0):
    for _ in range(3):
        open_case(s0)
    found, _ = search_cases(case_list_queryset(), EVERY_CUSTOMER)
    with CaptureQueriesContext(connection) as queries:
        count = CaseListPaginator(found, 2).count
    assert count == 3
    # Its ids are listed already: no capped count first, no planner estimate after.
    assert len(queries) == 1 and "LIMIT" not in queries[0]["sql"].upper()


@pytest.mark.postgres
@pytest.mark.parametrize(("query", "index"), [
    ("?waiting=payment&state=approved", "case_approved_unpaid"),
    ("?waiting=message&state=all", "case_customer_wrote"),
])
def test_it_reads_the_waiting_queues_in_order_from_their_partial_indexes(s0, agent, changelist_url, query, index):
    client = client_for(agent)
    for _ in range(3):
        open_case(s0)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(changelist_url + query).status_code == 200
    page_ids = next(q["sql"] for q in queries.captured_queries
                    if q["sql"].startswith('SELECT "cases_refundcase"."id"') and "ORDER BY" in q["sql"])
    with connection.cursor() as cursor:
        # A few rows make any scan cheap; the plan is asked as it would be at a million cases.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + page_ids)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan and "Sort" not in plan, plan
