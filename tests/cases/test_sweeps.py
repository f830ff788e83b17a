"""Deadline sweeps: expired fix windows (S0-FIX-48H) and overdue evidence requests, each acted on once."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import services
from cases.models import CaseEvent, OutboxMessage, RefundCase
from cases.states import State
from cases.sweeps import sweep_deadlines
from orders.models import Storefront
from policies.models import PolicyVersion
from tests.cases import WITHIN_WINDOW, fresh, later, mail_names, open_case, transitions
from tests.conftest import make_user, race

FIX_STARTED = later(WITHIN_WINDOW, hours=1)
FIX_DEADLINE = later(FIX_STARTED, hours=48)
ASKED = later(WITHIN_WINDOW, hours=1)
BACK_UNDER_REVIEW = "Your case is back under review"
REMINDER = "Reminder: we still need your information"


def fix_case(storefront, agent, *, now=FIX_STARTED, requested_at=WITHIN_WINDOW, **order_fields) -> RefundCase:
    case = open_case(storefront, reason="technical_issue", requested_at=requested_at, **order_fields)
    return services.case_start_fix(case=case, actor=agent, now=now)


def evidence_case(storefront, agent, *, now=ASKED, requested_at=WITHIN_WINDOW, **order_fields) -> RefundCase:
    case = open_case(storefront, requested_at=requested_at, **order_fields)
    return services.case_request_evidence(case=case, actor=agent, message="Send a screenshot of the error.", now=now)


def history(case: RefundCase) -> list[tuple[str, str]]:
    return list(case.events.order_by("created_at", "id").values_list("kind", "transition"))


# --- S0-FIX-48H ---------------------------------------------------------------------------------


def test_it_leaves_a_fix_window_alone_until_it_has_run_out(s0, agent, mailoutbox):
    case = fix_case(s0, agent)
    before = history(case)

    report = sweep_deadlines(now=FIX_DEADLINE - timedelta(microseconds=1))

    assert report.total == 0
    assert fresh(case).state == State.AWAITING_FIX
    assert history(case) == before
    assert len(mailoutbox) == 0


@pytest.mark.clause("S0-FIX-48H")
def test_it_expires_a_fix_window_at_exactly_48_hours_not_a_minute_later(s0, agent):
    case = fix_case(s0, agent)

    report = sweep_deadlines(now=FIX_DEADLINE)

    assert report.fix_windows_expired == [case.number]
    assert fresh(case).state == State.REQUESTED


def test_it_leaves_an_evidence_request_alone_at_its_due_time(s0, agent):
    case = evidence_case(s0, agent)

    assert sweep_deadlines(now=case.evidence_due_at).total == 0
    assert sweep_deadlines(now=later(case.evidence_due_at, seconds=1)).evidence_reminders == [case.number]


def test_it_handles_every_due_case_across_batches_once(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    cases = [fix_case(s0, agent) for _ in range(5)]

    with django_capture_on_commit_callbacks(execute=True):
        report = sweep_deadlines(now=later(FIX_DEADLINE, minutes=1), batch_size=2)
        again = sweep_deadlines(now=later(FIX_DEADLINE, minutes=2), batch_size=2)

    assert sorted(report.fix_windows_expired) == sorted(case.number for case in cases)
    assert again.total == 0
    assert all(transitions(case).count("fix_window_expired") == 1 for case in cases)
    assert mail_names(mailoutbox) == [BACK_UNDER_REVIEW] * 5


@pytest.mark.clause("S0-FIX-48H")
def test_it_sends_an_expired_fix_window_back_to_review_with_a_refund_now_allowed(
    s0, agent, mailoutbox, django_capture_on_commit_callbacks
):
    case = fix_case(s0, agent)
    swept_at = later(FIX_DEADLINE, minutes=1)

    with django_capture_on_commit_callbacks(execute=True):
        report = sweep_deadlines(now=swept_at)

    assert report.fix_windows_expired == [case.number]
    case = fresh(case)
    assert case.state == State.REQUESTED
    assert case.fix_outcome == "unresolved" and case.next_deadline is None
    assert case.flagged and "refund is now allowed" in case.flag_reason
    assert case.decision["outcome"] == "full_refund"
    assert "S0-FIX-48H" in case.decision["clauses"]
    assert case.decided_at == swept_at
    event = case.events.get(transition="fix_window_expired")
    assert (event.from_state, event.to_state) == (State.AWAITING_FIX, State.REQUESTED)
    assert event.actor is None and event.actor_label == "system"
    assert event.created_at == swept_at and "S0-FIX-48H" in event.comment
    assert mail_names(mailoutbox) == [BACK_UNDER_REVIEW]
    assert mailoutbox[0].to == [case.order.customer.email]
    # The assignee can now approve what the policy allows.
    approved = services.case_approve(case=case, actor=agent, now=later(swept_at, hours=1))
    assert approved.state == State.APPROVED


def test_it_expires_a_fix_window_only_once(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    case = fix_case(s0, agent)
    with django_capture_on_commit_callbacks(execute=True):
        sweep_deadlines(now=later(FIX_DEADLINE, minutes=1))
    after_first = history(case)

    with django_capture_on_commit_callbacks(execute=True):
        again = sweep_deadlines(now=later(FIX_DEADLINE, minutes=2))
        later_still = sweep_deadlines(now=later(FIX_DEADLINE, days=30))

    assert again.total == later_still.total == 0
    assert history(case) == after_first
    assert mail_names(mailoutbox) == [BACK_UNDER_REVIEW]


def test_it_leaves_a_fix_the_agent_already_settled(s0, agent):
    fixed = services.case_fix_succeeded(case=fix_case(s0, agent), actor=agent, now=later(FIX_STARTED, hours=2))
    failed = services.case_fix_failed(case=fix_case(s0, agent), actor=agent, now=later(FIX_STARTED, hours=2))

    report = sweep_deadlines(now=later(FIX_DEADLINE, days=1))

    assert report.total == 0
    assert transitions(fixed) == ["start_fix", "fix_succeeded"]
    assert transitions(failed) == ["start_fix", "fix_failed"]


# --- overdue evidence ---------------------------------------------------------------------------


def test_it_reminds_once_then_returns_an_unanswered_request_flagged_overdue(
    s0, agent, mailoutbox, django_capture_on_commit_callbacks
):
    case = evidence_case(s0, agent)
    due = later(ASKED, days=7)
    assert fresh(case).evidence_due_at == due

    with django_capture_on_commit_callbacks(execute=True):
        early = sweep_deadlines(now=due)
        reminded = sweep_deadlines(now=later(due, minutes=1))
        again = sweep_deadlines(now=later(due, minutes=2))
        in_grace = sweep_deadlines(now=later(due, days=3))
        expired = sweep_deadlines(now=later(due, days=3, minutes=2))
        after = sweep_deadlines(now=later(due, days=10))

    assert early.total == again.total == in_grace.total == after.total == 0
    assert reminded.evidence_reminders == [case.number] and reminded.total == 1
    assert expired.evidence_expired == [case.number] and expired.total == 1
    case = fresh(case)
    assert case.state == State.REQUESTED
    assert case.flagged and "overdue" in case.flag_reason
    assert case.evidence_reminded_at == later(due, minutes=1)
    assert history(case) == [
        ("created", ""), ("assigned", ""), ("transition", "request_evidence"), ("reminder", ""),
        ("transition", "evidence_expired")]
    reminder = case.events.get(kind=CaseEvent.Kind.REMINDER)
    assert reminder.visibility == CaseEvent.Visibility.CUSTOMER and reminder.actor_label == "system"
    assert reminder.data == {"was_due_at": due.isoformat(), "due_at": later(due, days=3, minutes=1).isoformat()}
    assert mail_names(mailoutbox).count(REMINDER) == 1
    assert mail_names(mailoutbox)[-1] == REMINDER


def test_it_uses_the_storefronts_own_evidence_days(s1, agent, django_capture_on_commit_callbacks, mailoutbox):
    Storefront.objects.filter(pk=s1.pk).update(evidence_due_days=2, evidence_grace_days=1)
    case = evidence_case(s1, agent)

    assert sweep_deadlines(now=later(ASKED, days=2)).total == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_deadlines(now=later(ASKED, days=2, minutes=1)).evidence_reminders == [case.number]
    assert "Smarters Pro <support@smarters-pro.net>" == mailoutbox[-1].from_email
    assert sweep_deadlines(now=later(ASKED, days=3, minutes=1)).total == 0
    assert sweep_deadlines(now=later(ASKED, days=3, minutes=2)).evidence_expired == [case.number]


def test_it_leaves_a_request_the_customer_answered_in_time(s0, agent):
    case = evidence_case(s0, agent)
    services.case_evidence_received(case=case, actor=agent, note="Screenshot received.", now=later(ASKED, days=1))

    assert sweep_deadlines(now=later(ASKED, days=30)).total == 0
    assert transitions(case) == ["request_evidence", "evidence_received"]


def test_it_carries_on_past_a_case_it_cannot_handle(s0, s1, agent, caplog):
    broken = evidence_case(s1, agent)
    fine = evidence_case(s0, agent, now=later(ASKED, minutes=5))
    sweep_deadlines(now=later(ASKED, days=7, minutes=10))
    PolicyVersion.objects.filter(storefront=s1).delete()  # a storefront left without a policy

    report = sweep_deadlines(now=later(ASKED, days=11))

    assert report.failed == [broken.number]
    assert report.evidence_expired == [fine.number]
    assert fresh(broken).state == State.EVIDENCE_REQUESTED
    assert transitions(broken) == ["request_evidence"]
    assert broken.number in caplog.text


# --- batches ----------------------------------------------------------------------------------


def _sweep_queries(s0, agent, *, count: int, at) -> tuple[int, int]:
    """Queries of one sweep over ``count`` expired fix windows and ``count`` first reminders, and how many it handled."""
    for _ in range(count):
        fix_case(s0, agent)
        evidence_case(s0, agent)
    with CaptureQueriesContext(connection) as queries:
        report = sweep_deadlines(now=at)
    return len(queries), report.total


def test_it_handles_a_batch_in_as_many_queries_whatever_its_size(s0, agent):
    due = later(ASKED, days=7, minutes=1)  # past both the fix windows and the evidence requests

    few, handled_few = _sweep_queries(s0, agent, count=2, at=due)
    many, handled_many = _sweep_queries(s0, agent, count=12, at=later(due, seconds=1))

    assert (handled_few, handled_many) == (4, 24)
    assert many == few
    # Lock and read, policies, clause texts, an update per kind of change, events, mails, savepoints.
    assert few <= 12


def test_it_writes_what_the_services_write(s0, agent, django_capture_on_commit_callbacks, mailoutbox):
    """The batch leaves a case, its events and its mail as the one-case services would."""
    case = fix_case(s0, agent)
    swept_at = later(FIX_DEADLINE, minutes=1)

    with django_capture_on_commit_callbacks(execute=True):
        sweep_deadlines(now=swept_at)

    case = fresh(case)
    assert case.decision == case.evaluate(as_of=swept_at).as_dict()
    assert case.needs_manager is False and case.updated_at >= swept_at
    event = case.events.get(transition="fix_window_expired")
    assert event.decision == case.decision and event.visibility == CaseEvent.Visibility.CUSTOMER
    message = OutboxMessage.objects.get(case=case, template="fix_window_expired")
    assert message.status == OutboxMessage.Status.SENT and message.to == case.order.customer.email
    assert case.decision["explanation"] in message.text_body


# --- the command --------------------------------------------------------------------------------


def test_it_reports_what_the_command_did(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    now = timezone.now()
    purchased = now - timedelta(days=20)
    fix = fix_case(s0, agent, requested_at=now - timedelta(days=3), now=now - timedelta(days=3),
                   purchased_at=purchased)
    asked = evidence_case(s0, agent, requested_at=now - timedelta(days=8), now=now - timedelta(days=8),
                          purchased_at=purchased)
    evidence_case(s0, agent, requested_at=now - timedelta(days=1), now=now - timedelta(days=1),
                  purchased_at=purchased)
    first, second = StringIO(), StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("sweep_deadlines", stdout=first, verbosity=2)
        call_command("sweep_deadlines", stdout=second)

    assert first.getvalue().splitlines() == [
        "fix windows expired: 1, evidence reminders: 1, evidence overdue: 0, portal forms taken up: 0",
        f"  fix window expired: {fix.number}",
        f"  evidence reminder: {asked.number}",
    ]
    assert second.getvalue() == (
        "fix windows expired: 0, evidence reminders: 0, evidence overdue: 0, portal forms taken up: 0\n")
    assert sorted(mail_names(mailoutbox)) == sorted([BACK_UNDER_REVIEW, REMINDER])


def test_it_exits_with_an_error_when_a_case_failed(s1, agent):
    now = timezone.now()
    case = evidence_case(s1, agent, requested_at=now - timedelta(days=12), now=now - timedelta(days=12),
                         purchased_at=now - timedelta(days=20))
    sweep_deadlines(now=now - timedelta(days=4))
    PolicyVersion.objects.filter(storefront=s1).delete()

    with pytest.raises(CommandError, match=case.number):
        call_command("sweep_deadlines", stdout=StringIO())


# --- two runs at once (PostgreSQL) --------------------------------------------------------------


def _due_cases(count: int) -> dict[str, list[RefundCase]]:
    """Cases whose deadlines ran out before now: fix windows, first reminders, expiries."""
    s0 = Storefront.objects.get(slug="iptv-smarters-pro")
    agent = make_user("alice", "Support agent")
    now = timezone.now()
    purchased = now - timedelta(days=20)

    def ago(days: float) -> dict:
        moment = now - timedelta(days=days)
        return {"requested_at": moment, "now": moment, "purchased_at": purchased}

    expiring = [evidence_case(s0, agent, **ago(12)) for _ in range(count)]
    assert len(sweep_deadlines(now=now - timedelta(days=4)).evidence_reminders) == count
    return {
        "expiring": expiring,
        "fix": [fix_case(s0, agent, **ago(3)) for _ in range(count)],
        "reminding": [evidence_case(s0, agent, **ago(8)) for _ in range(count)],
    }


def _counts(output: str) -> tuple[int, int, int]:
    match = re.search(r"fix windows expired: (\d+), evidence reminders: (\d+), evidence overdue: (\d+)", output)
    return tuple(int(n) for n in match.groups())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_acts_exactly_once_when_two_sweeps_run_at_once(mailoutbox):
    count = 15
    cases = _due_cases(count)
    mailoutbox.clear()

    def sweep(_: int) -> str:
        out = StringIO()
        call_command("sweep_deadlines", stdout=out)
        return out.getvalue()

    outputs, refused = race(sweep, threads=2)

    assert refused == []
    totals = [sum(column) for column in zip(*(_counts(output) for output in outputs), strict=True)]
    assert totals == [count, count, count]
    for case in cases["fix"]:
        assert transitions(case).count("fix_window_expired") == 1
        assert fresh(case).state == State.REQUESTED
    for case in cases["reminding"]:
        assert case.events.filter(kind=CaseEvent.Kind.REMINDER).count() == 1
        assert fresh(case).state == State.EVIDENCE_REQUESTED
    for case in cases["expiring"]:
        assert case.events.filter(kind=CaseEvent.Kind.REMINDER).count() == 1
        assert transitions(case).count("evidence_expired") == 1
        assert fresh(case).state == State.REQUESTED
    subjects = [message.subject for message in mailoutbox]
    assert sorted(subjects) == sorted(
        [f"[{case.number}] {BACK_UNDER_REVIEW}" for case in cases["fix"]]
        + [f"[{case.number}] {REMINDER}" for case in cases["reminding"]]
    )
    assert _counts(_command_output()) == (0, 0, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_skips_a_case_someone_is_working_on_and_takes_it_next_time():
    case = _due_cases(1)["fix"][0]
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                RefundCase.objects.select_for_update().get(pk=case.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        while_held = sweep_deadlines()
    finally:
        release.set()
        holder.join()

    assert while_held.fix_windows_expired == [] and while_held.failed == []
    assert fresh(case).state == State.AWAITING_FIX
    assert sweep_deadlines().fix_windows_expired == [case.number]


def _command_output() -> str:
    out = StringIO()
    call_command("sweep_deadlines", stdout=out)
    return out.getvalue()
