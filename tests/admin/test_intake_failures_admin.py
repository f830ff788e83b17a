"""Intake messages kept aside are listed for staff to answer by hand, read-only, without their raw bytes."""

from __future__ import annotations

from django.urls import reverse

from cases.models import IntakeFailure
from tests.admin.conftest import client_for
from tests.conftest import make_user


def test_it_lists_kept_aside_messages_with_their_error_and_never_edits_them(db):
    admin = make_user("root", is_superuser=True)
    failure = IntakeFailure.objects.create(
        mailbox="maildir:///var/mail/support", uid="17", sender="ana@example.com",
        subject="Refund Request order 1001", error="The message is larger than 30 MB.", raw=b"From: ana",
    )
    client = client_for(admin)

    listing = client.get(reverse("admin:cases_intakefailure_changelist")).content.decode()
    page = client.get(reverse("admin:cases_intakefailure_change", args=[failure.pk]))

    assert "ana@example.com" in listing and "The message is larger than 30 MB." in listing
    assert page.status_code == 200 and "From: ana" not in page.content.decode()
    assert client.post(reverse("admin:cases_intakefailure_delete", args=[failure.pk]), {"post": "yes"}).status_code == 403
    assert IntakeFailure.objects.filter(pk=failure.pk).exists()
