"""Intake messages kept aside are listed for agents and managers to answer by hand, read-only, without their bytes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mail.models import IntakeFailure
from tests.admin.conftest import client_for
from tests.conftest import make_user


def test_it_lists_kept_aside_messages_with_their_error_and_never_edits_them(db):
    admin = make_user("root", is_superuser=True)
    failure = IntakeFailure.objects.create(
        mailbox="maildir:///var/mail/support", uid="17", sender="ana@example.com",
        subject="Refund Request order 1001", error="The message is larger than 30 MB.", raw=b"From: ana",
    )
    client = client_for(admin)

    listing = client.get(reverse("admin:mail_intakefailure_changelist")).content.decode()
    page = client.get(reverse("admin:mail_intakefailure_change", args=[failure.pk]))

    assert "ana@example.com" in listing and "The message is larger than 30 MB." in listing
    assert page.status_code == 200 and "From: ana" not in page.content.decode()
    assert client.post(reverse("admin:mail_intakefailure_delete", args=[failure.pk]), {"post": "yes"}).status_code == 403
    assert IntakeFailure.objects.filter(pk=failure.pk).exists()


@pytest.mark.parametrize("group", ["Support agent", "Support manager"])
def test_it_lets_agents_and_managers_read_kept_aside_messages_and_nobody_else_on_staff(db, group):
    failure = IntakeFailure.objects.create(
        mailbox="maildir:///var/mail/support", uid="18", sender="ben@example.com", subject="Where is my refund",
        error="No storefront receives mail at this address.", raw=b"From: ben",
    )
    staff = client_for(make_user("sam", group))
    listing = staff.get(reverse("admin:mail_intakefailure_changelist"))
    assert listing.status_code == 200 and "ben@example.com" in listing.content.decode()
    assert staff.get(reverse("admin:mail_intakefailure_change", args=[failure.pk])).status_code == 200
    assert "Intake failures" in staff.get(reverse("admin:index")).content.decode()

    nobody = client_for(make_user("olga"))
    assert nobody.get(reverse("admin:mail_intakefailure_changelist")).status_code == 403
