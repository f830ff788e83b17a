"""The request and link forms do the same work whether or not the order exists (decision 0036)."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import Evidence, OutboxMessage, RefundCase
from portal.models import PendingFile, PortalSubmission
from portal.submissions import LEFT_OVER, handle_left_over
from tests.portal.conftest import links_in, png, recent_order

pytestmark = pytest.mark.django_db
VALUES = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|\"s\d+_x\d+\"")  # values and savepoint names


def shapes(queries) -> list[str]:
    """Each statement with its values blanked: what was asked, not of which row."""
    return [VALUES.sub("?", query["sql"]) for query in queries]


def send(storefront, form: str, *, order_number: str, email: str, files=()) -> tuple[int, bytes, list[str]]:
    data = {"order_number": order_number, "email": email, "reason": "other", "description": "Down since noon."}
    if files:
        data["screenshots"] = list(files)
    client = Client()
    url = reverse(f"portal:{form}", args=[storefront.slug])
    client.get(url)  # a process that has served the shop before keeps it (portal/shops.py)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data)
    return response.status_code, response.content, shapes(queries.captured_queries)


@pytest.mark.parametrize("form", ["request", "link"])
def test_it_runs_the_same_queries_for_a_real_order_and_a_made_up_one(s0, form):
    order = recent_order(s0, email="buyer@example.com")
    if form == "link":
        from cases import services

        services.case_create(order=order, reason="other", requested_at=timezone.now(), channel="portal",
                             acknowledge=False)
    real = send(s0, form, order_number=order.number, email="buyer@example.com")
    fake = send(s0, form, order_number="999999", email="nobody@example.com")
    assert real[0] == fake[0] == 200
    assert real[1].replace(b"buyer@example.com", b"") == fake[1].replace(b"nobody@example.com", b"")
    assert real[2] == fake[2]
    assert len(real[2]) == 1 and real[2][0].startswith('INSERT INTO "cases_portalsubmission"')


def test_it_reads_and_re_encodes_the_files_of_a_made_up_order_too(s0, media):
    order = recent_order(s0)
    real = send(s0, "request", order_number=order.number, email=order.customer.email,
                files=[png("a.png", size=(30, 20)), png("b.png", size=(31, 20))])
    fake = send(s0, "request", order_number="999999", email="nobody@example.com",
                files=[png("a.png", size=(30, 20)), png("b.png", size=(31, 20))])
    assert real[2] == fake[2]
    for submission in PortalSubmission.objects.all():
        assert [f.original_name for f in submission.files.all()] == ["a.png", "b.png"]
        assert all(f.file and f.thumbnail for f in submission.files.all())
    assert not RefundCase.objects.exists()  # nothing looked for the order yet


def test_it_opens_the_case_with_its_files_and_mails_the_link_in_the_job(
    s0, media, customer, mailoutbox, django_capture_on_commit_callbacks
):
    order = recent_order(s0, email="buyer@example.com")
    bad = png("bad.png")
    bad.file.write(b"not a picture")
    bad.file.seek(0)
    bad.file.truncate(13)
    with django_capture_on_commit_callbacks(execute=True):
        customer.post(reverse("portal:request", args=[s0.slug]), {
            "order_number": order.number, "email": "buyer@example.com", "reason": "not_delivered",
            "screenshots": [png("tv.png"), bad],
        })
    case = RefundCase.objects.get(order=order)
    assert list(Evidence.objects.filter(case=case).values_list("original_name", flat=True)) == ["tv.png"]
    assert len(mailoutbox) == 1 and "bad.png" in mailoutbox[0].body
    assert len(links_in(mailoutbox)) == 1
    assert not PortalSubmission.objects.exists() and not PendingFile.objects.exists()
    assert [p.name for p in (media / "portal-pending").glob("*")] == []


def test_it_leaves_nothing_behind_for_a_made_up_order(s0, media, customer, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        customer.post(reverse("portal:request", args=[s0.slug]), {
            "order_number": "999999", "email": "nobody@example.com", "reason": "other", "screenshots": [png()],
        })
    assert not PortalSubmission.objects.exists() and not PendingFile.objects.exists()
    assert [p.name for p in (media / "portal-pending").glob("*")] == []
    assert not RefundCase.objects.exists() and mailoutbox == []


def test_it_handles_a_submission_whose_job_never_ran_in_the_minutes_job(s0, customer, mailoutbox):
    order = recent_order(s0, email="buyer@example.com")
    customer.post(reverse("portal:request", args=[s0.slug]), {
        "order_number": order.number, "email": "buyer@example.com", "reason": "other",
    })  # the hand-off after commit never happens inside this test's transaction
    assert handle_left_over() == 0  # too fresh: its own job may still be on its way
    assert handle_left_over(now=timezone.now() + LEFT_OVER + LEFT_OVER) == 1
    assert RefundCase.objects.filter(order=order).count() == 1
    assert not PortalSubmission.objects.exists()


def test_it_takes_up_a_left_over_submission_in_the_cron_sweep(s0, customer, mailoutbox):
    """Without a beat, cron's sweep_deadlines takes up a form whose own job never ran."""
    from io import StringIO

    from django.core.management import call_command

    order = recent_order(s0, email="cron@example.com")
    customer.post(reverse("portal:request", args=[s0.slug]), {
        "order_number": order.number, "email": "cron@example.com", "reason": "other",
    })  # the hand-off after commit never happens inside this test's transaction
    PortalSubmission.objects.update(created_at=timezone.now() - LEFT_OVER - LEFT_OVER)
    out = StringIO()

    call_command("sweep_deadlines", stdout=out)

    assert out.getvalue().strip().endswith("portal forms taken up: 1")
    assert RefundCase.objects.filter(order=order).count() == 1
    assert not PortalSubmission.objects.exists()


def test_it_looks_for_the_order_only_after_the_response_has_gone_out_without_a_broker(
    s0, customer, mailoutbox, django_capture_on_commit_callbacks
):
    """With no broker Celery runs a task where it is queued: in the request, the order's search would
    again take longer for a real order than for a made-up one. It waits for the response instead."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from portal.submissions import portal_submit

    def signal(which) -> None:
        # As Django's test client does: the test's transaction stays open, so its connection must not
        # be closed as an old one when the request starts or ends.
        which.disconnect(close_old_connections)
        try:
            which.send(sender=Client)
        finally:
            which.connect(close_old_connections)

    order = recent_order(s0, email="late@example.com")
    signal(request_started)
    with django_capture_on_commit_callbacks(execute=True):
        portal_submit(storefront=s0, kind=PortalSubmission.Kind.REQUEST, order_number=order.number,
                      email="late@example.com", reason="other", description="Down since noon.")

    assert not RefundCase.objects.filter(order=order).exists()
    assert mailoutbox == []

    signal(request_finished)

    assert RefundCase.objects.filter(order=order).exists()
    assert not PortalSubmission.objects.exists()
    assert OutboxMessage.objects.filter(case__order=order, template="received", to="late@example.com").exists()
