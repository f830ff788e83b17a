"""S0-OUTAGE extensions: bonus days are bounded, and over the storefront's limit only a manager extends."""

from __future__ import annotations

import pytest

from cases import services
from cases.checks import transition_error
from cases.forms import ExtendForm
from cases.models import RefundCase
from cases.services import MAX_BONUS_DAYS
from cases.states import State
from core.errors import CaseActionError, Code
from orders.models import Extension, Subscription
from tests.cases import assert_refused, later, open_case
from tests.conftest import at

PURCHASED_LONG_AGO = at("2025-12-01 10:00")
ASKED = at("2026-01-02 09:00")
NOW = later(ASKED, hours=1)


def outage_case(s0, hours):
    return open_case(s0, reason="server_outage", outage_hours=hours, requested_at=ASKED,
                     purchased_at=PURCHASED_LONG_AGO)


def test_it_bounds_bonus_days_at_a_month(s0, manager):
    assert MAX_BONUS_DAYS == 30
    case = outage_case(s0, 72)
    error = assert_refused(lambda: services.case_extend(case=case, actor=manager, bonus_days=31, now=NOW), case,
                           Code.INVALID_INPUT)
    assert "from 0 to 30" in error.message
    form = ExtendForm({"expected_state": State.REQUESTED, "bonus_days": "31"}, case=case,
                      decision=case.evaluate(as_of=NOW))
    assert "bonus_days" in form.errors


def test_it_lets_an_agent_extend_up_to_the_storefront_limit_s0_outage(s0, agent):
    case = outage_case(s0, 72)  # 3 lost days
    extended = services.case_extend(case=case, actor=agent, bonus_days=27, now=NOW)
    assert extended.state == State.RESOLVED
    assert Subscription.objects.get(order=case.order).extension_days == 30


def test_it_needs_a_manager_when_the_bonus_takes_the_extension_over_the_limit_s0_outage(s0, agent, manager):
    case = outage_case(s0, 72)

    error = assert_refused(lambda: services.case_extend(case=case, actor=agent, bonus_days=28, now=NOW), case,
                           Code.MANAGER_ONLY)

    assert error.message == ("Only a support manager can do this (S0-OUTAGE: 3 lost day(s) + 28 bonus day(s) is "
                             "more than this storefront's extension limit of 30 days).")
    assert not Extension.objects.exists()
    extended = services.case_extend(case=case, actor=manager, bonus_days=28, now=NOW)
    assert Extension.objects.get(case=extended).created_by == manager


def test_it_says_before_the_click_that_the_lost_days_alone_need_a_manager_s0_outage(s0, agent, manager):
    """The page's check (transition_error) and the service refuse alike, before any bonus is typed."""
    case = outage_case(s0, 750)  # 32 lost days

    before_click = transition_error(case=case, user=agent, name="extend", now=NOW)

    assert before_click is not None and before_click.code == Code.MANAGER_ONLY
    assert "32 lost day(s) is more than this storefront's extension limit of 30 days" in before_click.message
    assert transition_error(case=case, user=manager, name="extend", now=NOW) is None
    with pytest.raises(CaseActionError) as refused:
        services.case_extend(case=case, actor=agent, now=NOW)
    assert refused.value.message == before_click.message


def test_it_reads_the_limit_from_the_storefront_s0_outage(s0, agent):
    s0.extension_limit_days = 5
    s0.save()
    case = outage_case(s0, 72)
    assert_refused(lambda: services.case_extend(case=case, actor=agent, bonus_days=3, now=NOW), case,
                   Code.MANAGER_ONLY)
    assert services.case_extend(case=case, actor=agent, bonus_days=2, now=NOW).state == State.RESOLVED


def test_it_queues_an_extension_over_the_limit_for_a_manager_s0_outage(s0):
    over = outage_case(s0, 750)  # 32 lost days: more than the storefront's 30
    within = outage_case(s0, 72)

    assert RefundCase.objects.get(pk=over.pk).needs_manager
    assert not RefundCase.objects.get(pk=within.pk).needs_manager
