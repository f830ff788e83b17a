"""What reaches the customer is chosen on the staff case page, and every free-text field says who reads it."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from cases.customer_links import CaseLink, issue_link
from cases.models import CaseEvent, OutboxMessage
from tests.admin.conftest import act_url, case_url, client_for, open_case
from tests.portal.conftest import case_url as portal_url

pytestmark = pytest.mark.django_db

NOTE = "Line reset on the panel; Bob thinks the reseller throttles."


def start_fix(client, case, **extra):
    return client.post(act_url(case, "start_fix"), {
        "start_fix-expected_state": case.state, "start_fix-note": NOTE, **extra,
    })


def customer_reads(case, client) -> str:
    secret = issue_link(case=case, why=CaseLink.Why.OPENED, now=timezone.now())
    page = client.get(portal_url(secret)).content.decode()
    mail = " ".join(m.text_body + m.html_body for m in OutboxMessage.objects.filter(case=case))
    return page + mail


def test_it_keeps_the_start_fix_note_internal_unless_ticked(s0, agent, django_capture_on_commit_callbacks, client):
    case = open_case(s0, reason="technical_issue")
    with django_capture_on_commit_callbacks(execute=True):
        response = start_fix(client_for(agent), case)
    assert response.status_code == 302

    event = case.events.get(transition="start_fix")
    assert event.comment == NOTE and event.visibility == CaseEvent.Visibility.INTERNAL
    assert OutboxMessage.objects.filter(case=case, template="fix_started").exists()
    read = customer_reads(case, client)
    assert "We started working on the problem" in read
    assert "Bob thinks" not in read


def test_it_shows_the_start_fix_note_to_the_customer_when_ticked(s0, agent, django_capture_on_commit_callbacks, client):
    case = open_case(s0, reason="technical_issue")
    with django_capture_on_commit_callbacks(execute=True):
        start_fix(client_for(agent), case, **{"start_fix-customer_visible": "on"})

    assert case.events.get(transition="start_fix").visibility == CaseEvent.Visibility.CUSTOMER
    page = client.get(portal_url(issue_link(case=case, why=CaseLink.Why.OPENED, now=timezone.now()))).content.decode()
    mail = OutboxMessage.objects.get(case=case, template="fix_started")
    assert "Bob thinks" in page
    assert "Bob thinks" in mail.text_body and "Bob thinks" in mail.html_body


def test_it_says_on_every_free_text_field_of_the_case_page_whether_the_customer_sees_it(s0, manager):
    case = open_case(s0, reason="technical_issue")
    html = client_for(manager).get(case_url(case)).content.decode()

    areas = re.findall(r'<textarea name="([^"]+)"', html)
    assert {"start_fix-note", "deny-note", "request_evidence-message", "comment", "note", "text"} <= set(areas)
    for name in areas:
        # What follows the field, up to the next field or the end of its form: its help text.
        rest = html[html.index(f'<textarea name="{name}"'):]
        own = re.split(r"<textarea |</form>", rest[1:], maxsplit=1)[0].lower()
        assert "only staff see" in own or "customer sees" in own, name
