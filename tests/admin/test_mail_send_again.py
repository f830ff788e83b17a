"""Staff send again a customer e-mail whose delivery failed, from the case page's mail card."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cases.models import CaseEvent, OutboxMessage
from cases.outbox import deliver
from cases.services.mail import case_mail_send_again
from core.errors import CaseActionError
from tests.admin.conftest import case_url, client_for, messages_of, open_case
from tests.conftest import make_user, race

DOWN = "tests.outbox.backends.DownBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def mail_down(settings):
    """A mail server that refuses every message, and one attempt before a message is failed."""
    settings.EMAIL_BACKEND = DOWN
    settings.OUTBOX_MAX_ATTEMPTS = 1
    return settings


def failed_mail(storefront) -> OutboxMessage:
    """A case whose acknowledgement the (down) mail server never took."""
    case = open_case(storefront, reason="other")
    message = OutboxMessage.objects.get(case=case, template="received")
    if message.status == OutboxMessage.Status.QUEUED:  # its hand-off waits for a commit the test never makes
        deliver(message.pk)
        message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    return message


def again_url(message: OutboxMessage, case=None) -> str:
    return case_url(case or message.case, "mail_send_again", message.pk)


@pytest.fixture
def viewer(db):
    """Staff who may read cases but not work them."""
    user = make_user("vera")
    user.user_permissions.add(Permission.objects.get(codename="view_refundcase", content_type__app_label="cases"))
    return User.objects.get(pk=user.pk)  # fresh instance: no stale permission cache


def test_it_queues_a_failed_mail_and_the_worker_sends_it_after_the_commit(
    s0, agent, mail_down, mailoutbox, django_capture_on_commit_callbacks
):
    message = failed_mail(s0)
    mail_down.EMAIL_BACKEND = LOCMEM  # the mail server is fixed
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_for(agent).post(again_url(message))
    assert response.status_code == 302
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("queued", 0)
    assert mailoutbox == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 1)
    assert len(mailoutbox) == 1
    sent = mailoutbox[0]
    assert sent.to == [message.case.order.customer.email] and sent.extra_headers["Message-ID"] == message.message_id
    assert s0.support_email in sent.from_email
    event = CaseEvent.objects.get(case=message.case, kind=CaseEvent.Kind.MAIL)
    assert event.actor == agent and event.visibility == CaseEvent.Visibility.INTERNAL
    assert message.subject in event.comment and event.data["failed_attempts"] == 1


def test_it_tells_staff_the_mail_is_on_its_way(s0, agent, mail_down, mailoutbox, django_capture_on_commit_callbacks):
    message = failed_mail(s0)
    mail_down.EMAIL_BACKEND = LOCMEM
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent).post(again_url(message), follow=True)
    assert any(f"“{message.subject}” to {message.to} is sending again" in m for m in messages_of(response))
    assert len(mailoutbox) == 1


def test_it_refuses_a_view_only_user_with_403(s0, viewer, mail_down, mailoutbox, django_capture_on_commit_callbacks):
    message = failed_mail(s0)
    assert client_for(viewer).get(case_url(message.case)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(viewer).post(again_url(message))
    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == "failed"
    assert not CaseEvent.objects.filter(case=message.case, kind=CaseEvent.Kind.MAIL).exists()


def test_it_refuses_in_the_service_without_the_permission_to_work_cases(s0, outsider, mail_down):
    message = failed_mail(s0)
    with pytest.raises(CaseActionError, match="permission"):
        case_mail_send_again(case=message.case, message_id=message.pk, actor=outsider)
    message.refresh_from_db()
    assert message.status == "failed"


def test_it_shows_the_button_only_on_failed_mail_and_only_to_those_who_may_send(s0, agent, viewer, mail_down):
    message = failed_mail(s0)
    OutboxMessage.objects.create(case=message.case, storefront=s0, to="x@example.com", subject="Queued one",
                                 text_body="t", message_id="<queued-one@example.com>")
    html = client_for(agent).get(case_url(message.case)).content.decode()
    assert html.count("Send again</button>") == 1 and f'action="{again_url(message)}"' in html
    assert "Send again</button>" not in client_for(viewer).get(case_url(message.case)).content.decode()


def test_it_sends_once_when_the_button_is_pressed_twice(
    s0, agent, mail_down, mailoutbox, django_capture_on_commit_callbacks
):
    message = failed_mail(s0)
    mail_down.EMAIL_BACKEND = LOCMEM
    client = client_for(agent)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(again_url(message))
        second = client.post(again_url(message), follow=True)  # before the worker got to it
    assert any("already queued" in m for m in messages_of(second))
    for callback in callbacks:
        callback()
    with django_capture_on_commit_callbacks(execute=True):
        third = client.post(again_url(message), follow=True)  # after it was sent
    assert any("already sent" in m for m in messages_of(third))
    assert len(mailoutbox) == 1
    assert CaseEvent.objects.filter(case=message.case, kind=CaseEvent.Kind.MAIL).count() == 1


def test_it_refuses_a_message_that_has_not_failed(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    case = open_case(s0, reason="other")
    message = OutboxMessage.objects.get(case=case)
    assert message.status == "queued"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent).post(again_url(message), follow=True)
    assert any("already queued" in m for m in messages_of(response))
    message.refresh_from_db()
    assert message.status == "queued" and message.attempts == 0 and mailoutbox == []


def test_it_refuses_a_message_of_another_case_through_a_forged_url(
    s0, agent, mail_down, mailoutbox, django_capture_on_commit_callbacks
):
    theirs = failed_mail(s0)
    mine = open_case(s0, reason="other")
    mail_down.EMAIL_BACKEND = LOCMEM
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(agent).post(again_url(theirs, case=mine), follow=True)
        missing = client_for(agent).post(case_url(mine, "mail_send_again", 10**9), follow=True)
    assert any("no such e-mail" in m for m in messages_of(response))
    assert any("no such e-mail" in m for m in messages_of(missing))
    theirs.refresh_from_db()
    assert theirs.status == "failed" and mailoutbox == []
    assert not CaseEvent.objects.filter(kind=CaseEvent.Kind.MAIL).exists()


def test_it_takes_only_a_post_with_a_csrf_token(s0, agent, mail_down):
    message = failed_mail(s0)
    assert client_for(agent).get(again_url(message)).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(agent)
    assert strict.post(again_url(message)).status_code == 403
    message.refresh_from_db()
    assert message.status == "failed"


def test_it_adds_no_query_to_the_case_page_for_failed_mail(s0, agent, mail_down):
    message = failed_mail(s0)
    quiet = open_case(s0, reason="other")
    client = client_for(agent)
    client.get(case_url(quiet))  # warm the session and content types

    def count(case) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(case_url(case)).status_code == 200
        return len(queries)

    assert count(message.case) == count(quiet)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_queues_once_when_two_people_send_again_at_once(s0, agent, agent2, mail_down):
    message = failed_mail(s0)
    # The winner's hand-off to the worker fails again but keeps the message queued, not failed, so
    # a late loser cannot find it failed once more.
    mail_down.OUTBOX_MAX_ATTEMPTS = 10
    actors = [agent, agent2]
    done, refused = race(lambda i: case_mail_send_again(case=message.case, message_id=message.pk,
                                                        actor=actors[i % 2]), threads=6)
    assert len(done) == 1 and len(refused) == 5
    assert CaseEvent.objects.filter(case=message.case, kind=CaseEvent.Kind.MAIL).count() == 1
