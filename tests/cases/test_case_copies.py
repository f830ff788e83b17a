"""The case's copies of its order's terms and of its event log stay equal to what they copy."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection

from cases import services
from cases.models import CaseEvent, RefundCase
from cases.states import State
from cases.sweeps import sweep_deadlines
from mail.intake import intake_email
from tests.cases import WITHIN_WINDOW, fresh, later, open_case
from tests.conftest import at, make_order

pytestmark = pytest.mark.django_db


def first_staff_answer(case: RefundCase):
    """The first staff answer read from the log, as the report used to find it."""
    events = case.events.filter(actor__isnull=False, kind__in=[CaseEvent.Kind.TRANSITION, CaseEvent.Kind.COMMENT])
    answers = [e for e in events.order_by("created_at", "id")
               if e.kind == CaseEvent.Kind.TRANSITION or e.visibility == CaseEvent.Visibility.CUSTOMER]
    return answers[0].created_at if answers else None


def test_it_copies_the_orders_storefront_and_currency_onto_a_case_opened_by_the_services(s1):
    order = make_order(s1, currency="EUR")
    case = fresh(open_case(s1, order=order))
    assert (case.storefront_id, case.currency) == (s1.pk, "EUR")


def test_it_copies_them_onto_a_case_opened_from_an_email(s0):
    order = make_order(s0, email="kim@example.com", currency="EUR")
    result = intake_email(storefront=s0, sender="kim@example.com", subject="Refund Request",
                          body=f"order {order.number}", received_at=at("2026-01-02 08:00"))
    case = fresh(result.case)
    assert (case.storefront_id, case.currency) == (order.storefront_id, order.currency) == (s0.pk, "EUR")


def test_it_copies_them_onto_a_case_created_directly(s1):
    order = make_order(s1, currency="EUR")
    case = RefundCase.objects.create(order=order, reason="other", requested_at=WITHIN_WINDOW)
    assert RefundCase.objects.filter(pk=case.pk, storefront=s1, currency="EUR").exists()


def test_it_stamps_the_first_staff_answer_once(s0, agent):
    case = open_case(s0, reason="technical_issue")
    assert fresh(case).first_response_at is None  # opening is no answer
    services.case_comment(case=case, actor=agent, comment="Looking into it.", now=later(WITHIN_WINDOW, minutes=5))
    assert fresh(case).first_response_at is None  # an internal note is no answer either
    answered = later(WITHIN_WINDOW, minutes=20)
    services.case_comment(case=case, actor=agent, comment="Which device?", customer_visible=True, now=answered)
    assert fresh(case).first_response_at == answered
    services.case_start_fix(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=1))
    case = fresh(case)
    assert case.first_response_at == answered == first_staff_answer(case)


def test_it_takes_a_first_transition_as_the_first_answer(s0, agent):
    case = open_case(s0, reason="technical_issue")
    started = later(WITHIN_WINDOW, hours=1)
    services.case_start_fix(case=case, actor=agent, now=started)
    case = fresh(case)
    assert case.first_response_at == started == first_staff_answer(case)


def test_it_keeps_the_first_answer_when_a_stale_copy_of_the_case_records_another(s0, agent):
    case = open_case(s0)
    stale = fresh(case)
    answered = later(WITHIN_WINDOW, minutes=20)
    services.case_comment(case=case, actor=agent, comment="Which device?", customer_visible=True, now=answered)
    from cases.events import record_event

    record_event(stale, actor=agent, kind=CaseEvent.Kind.COMMENT, comment="Again",
                 visibility=CaseEvent.Visibility.CUSTOMER, now=later(answered, hours=1))
    assert fresh(case).first_response_at == answered


def test_it_marks_a_fix_window_missed_when_the_sweep_expires_it(s0, agent):
    """The sweep writes its events in bulk, past record_event: it keeps the copy in its own update."""
    case = open_case(s0, reason="technical_issue")
    case = services.case_start_fix(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=1))
    assert not fresh(case).fix_window_missed
    report = sweep_deadlines(now=later(case.fix_deadline, minutes=1))
    assert report.fix_windows_expired == [case.number]
    case = fresh(case)
    assert case.state == State.REQUESTED and case.fix_window_missed
    assert case.events.filter(transition="fix_window_expired").exists()
    assert case.first_response_at == later(WITHIN_WINDOW, hours=1)  # the system's transition is no answer


def test_it_leaves_fix_window_missed_unset_for_a_fix_settled_in_time(s0, agent):
    case = open_case(s0, reason="technical_issue")
    case = services.case_start_fix(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=1))
    services.case_fix_succeeded(case=case, actor=agent, now=later(WITHIN_WINDOW, hours=5))
    sweep_deadlines(now=later(WITHIN_WINDOW, days=5))
    assert not fresh(case).fix_window_missed


def test_it_sets_the_copies_of_sweep_expired_cases_in_bulk(s0, agent):
    cases = [services.case_start_fix(case=open_case(s0, reason="technical_issue"), actor=agent,
                                     now=later(WITHIN_WINDOW, hours=1)) for _ in range(3)]
    sweep_deadlines(now=later(WITHIN_WINDOW, days=3), batch_size=2)
    assert RefundCase.objects.filter(pk__in=[c.pk for c in cases], fix_window_missed=True).count() == 3


def test_it_fills_the_copies_of_existing_cases_in_the_migration(s0, s1, agent):
    """The migration's set-based fill finds what the services would have kept."""
    import importlib

    migration = importlib.import_module("cases.migrations.0022_case_row_copies")
    euro = open_case(s1, order=make_order(s1, currency="EUR"))
    answered = later(WITHIN_WINDOW, minutes=30)
    services.case_comment(case=euro, actor=agent, comment="Which device?", customer_visible=True, now=answered)
    missed = services.case_start_fix(case=open_case(s0, reason="technical_issue"), actor=agent,
                                     now=later(WITHIN_WINDOW, hours=1))
    sweep_deadlines(now=later(WITHIN_WINDOW, days=3))
    untouched = open_case(s0)
    expected = {c.pk: c for c in RefundCase.objects.all()}
    RefundCase.objects.update(currency="", first_response_at=None, fix_window_missed=False)

    migration.fill(django_apps, SimpleNamespace(connection=connection))

    for case in RefundCase.objects.all():
        before = expected[case.pk]
        assert (case.storefront_id, case.currency, case.first_response_at, case.fix_window_missed) == (
            before.storefront_id, before.currency, before.first_response_at, before.fix_window_missed)
    assert fresh(euro).currency == "EUR" and fresh(euro).first_response_at == answered
    assert fresh(missed).fix_window_missed and not fresh(untouched).fix_window_missed
    assert fresh(untouched).first_response_at is None
