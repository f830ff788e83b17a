import logging
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone

from backoffice.demo import ADMIN_URL, LOGINS, seed_demo
from cases.models import CaseEvent, RefundCase
from cases.states import State
from cases.sweeps import sweep_deadlines
from orders.models import Chargeback
from rules.engine import Outcome

pytestmark = pytest.mark.django_db


def run_seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in apps.get_models()}


def test_it_adds_nothing_when_run_twice():
    first = run_seed()
    counts = row_counts()
    second = run_seed()

    assert row_counts() == counts
    assert counts["cases.RefundCase"] >= 25
    assert counts["orders.Order"] >= 36
    assert "Demo data created" in first
    assert "nothing added" in second
    for output in (first, second):
        assert ADMIN_URL in output
        for login in LOGINS:
            assert login.username in output and login.password in output


def test_it_puts_cases_in_every_state():
    run_seed()
    states = set(RefundCase.objects.values_list("state", flat=True))
    assert states == set(State.values)
    resolutions = set(RefundCase.objects.filter(state=State.RESOLVED).values_list("resolution", flat=True))
    assert resolutions == {"fixed", "extended"}


@pytest.mark.clause("S0-NO-SETUP", "S1-NOT-ELIGIBLE", "S0-NO-INTERMITTENT", "H-DUPLICATE", "H-CAP")
def test_it_covers_the_interesting_policy_outcomes():
    run_seed()
    now = timezone.now()
    cases = list(RefundCase.objects.select_related("order__storefront", "order__plan", "order__subscription"))
    opened_with = {event.decision["outcome"] for event in CaseEvent.objects.filter(kind=CaseEvent.Kind.CREATED)}
    assert {
        Outcome.FULL_REFUND, Outcome.PARTIAL_REFUND, Outcome.REFUND_OR_EXTENSION,
        Outcome.MANAGER_DISCRETION, Outcome.DENY, Outcome.NEEDS_FIX_ATTEMPT,
    } <= opened_with
    clauses_now = {clause for case in cases for clause in case.evaluate(as_of=now).clauses}
    assert {"S0-NO-SETUP", "S1-NOT-ELIGIBLE", "S0-NO-INTERMITTENT", "H-DUPLICATE", "H-CAP"} <= clauses_now
    statutory = [case for case in cases if case.statutory_override]
    assert statutory and all(case.order.storefront.slug == "smarters-pro" for case in statutory)
    assert {case.order.storefront.slug for case in cases} == {"iptv-smarters-pro", "smarters-pro"}
    assert any(case.flagged for case in cases) and any(not case.flagged for case in cases)
    assert any(case.assignee_id for case in cases) and any(case.assignee_id is None for case in cases)
    assert any(case.order.subscription.delivered_at is None for case in cases)


def test_it_gives_every_case_a_created_event():
    run_seed()
    without = RefundCase.objects.exclude(events__kind=CaseEvent.Kind.CREATED)
    assert RefundCase.objects.exists()
    assert not without.exists()


def test_it_pays_every_refund_with_two_different_people():
    run_seed()
    paid = RefundCase.objects.filter(state=State.PAID).select_related("payout")
    assert paid.exists()
    for case in paid:
        assert case.payout.paid_by_id != case.approved_by_id
        assert case.events.filter(transition="pay").exists()


def test_it_leaves_work_for_the_deadline_sweep():
    run_seed()
    report = sweep_deadlines(now=timezone.now())
    assert report.fix_windows_expired
    assert report.evidence_reminders


def test_it_records_a_sanctioned_chargeback_on_smarters_pro():
    run_seed()
    chargeback = Chargeback.objects.select_related("order__storefront", "order__customer").get()
    assert chargeback.order.storefront.slug == "smarters-pro"
    assert not chargeback.prior_contact and chargeback.sanction_applied
    assert chargeback.order.customer.restricted_from_ordering
    assert not chargeback.order.cases.exists()


def test_it_creates_logins_that_work(client):
    run_seed()
    for login in LOGINS:
        # Through the admin's own login form: the lockout backend needs the request.
        response = client.post("/admin/login/", {"username": login.username, "password": login.password})
        assert response.status_code == 302, login.username
        client.logout()
    roles = {user.username: set(user.groups.values_list("name", flat=True)) for user in User.objects.all()}
    assert [name for name, groups in roles.items() if groups == {"Support agent"}] == ["alice", "bruno"]
    assert sorted(name for name, groups in roles.items() if groups == {"Support manager"}) == ["carla", "dmitri"]
    assert User.objects.get(username="admin").is_superuser
    client.post("/admin/login/", {"username": "admin", "password": "admin-demo"})
    assert client.get("/admin/").status_code == 200


def test_it_reports_a_demo_login_whose_password_was_changed():
    run_seed()
    alice = User.objects.get(username="alice")
    alice.set_password("something-else")
    alice.save()
    output = run_seed()
    assert "existing account" in output.split("alice", 1)[1].splitlines()[0]
    assert User.objects.get(username="alice").check_password("something-else")


def test_it_refuses_to_run_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        run_seed()
    assert not RefundCase.objects.exists()
    assert not User.objects.filter(username="admin").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_keeps_customer_emails_off_the_console(settings, capsys):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    report = seed_demo()
    captured = capsys.readouterr()
    assert report.emails > 0
    assert "Subject:" not in captured.out + captured.err


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # mail is handed to the task runner on commit
@pytest.mark.parametrize(("backend", "says"), [
    ("django.core.mail.backends.console.EmailBackend", "customer e-mail is printed in this terminal, not sent to anyone"),
    ("django.core.mail.backends.locmem.EmailBackend", "customer e-mail is kept in memory, not sent to anyone"),
    ("django.core.mail.backends.smtp.EmailBackend",
     "customer e-mail is sent to customers through the mail server at mail.example.net:587"),
])
def test_it_says_where_mail_goes_as_the_mail_backend_is_configured(settings, caplog, backend, says):
    settings.EMAIL_BACKEND = backend
    settings.EMAIL_HOST, settings.EMAIL_PORT = "mail.example.net", 587
    settings.CELERY_BROKER_URL = ""
    caplog.set_level(logging.INFO)

    output = run_seed()

    assert says in output
    assert "their case pages list them as sent, but nobody was mailed" in output
    assert "Background tasks run in the server's own process" in output
    # No line of the task log calls a demo e-mail "sent" while nobody was mailed.
    assert not [r for r in caplog.records if r.name.startswith(("celery", "kombu")) and r.levelno < logging.WARNING]


def test_it_says_a_worker_runs_tasks_when_a_broker_is_configured(settings):
    settings.CELERY_BROKER_URL = "redis://user:secret@broker.example.net:6379/0"

    output = run_seed()

    assert "by a Celery worker through the broker at broker.example.net:6379" in output
    assert "secret" not in output


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # the hand-off to a worker happens on commit
def test_it_delivers_demo_mail_to_memory_only_even_with_a_broker(settings, mailoutbox):
    """With a broker, a worker would send demo mail with the real settings: seeding keeps it here."""
    from backoffice.celery import app
    from cases.models_mail import OutboxMessage

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url", "broker_connection_timeout",
                                            "broker_connection_retry", "broker_connection_max_retries")}
    # A broker nobody listens on: a hand-off to it fails at once (and the message would stay queued).
    app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:9/0", broker_connection_timeout=0.2,
                    broker_connection_retry=False, broker_connection_max_retries=0)
    try:
        run_seed()
    finally:
        app.conf.update(saved)

    statuses = set(OutboxMessage.objects.values_list("status", flat=True))
    assert statuses == {OutboxMessage.Status.SENT}
    assert mailoutbox == []
