"""E-mail backends for the tests: a mail server that is down, and one that is down for a while."""

from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend

OUTAGE = {"failures_left": 0}


class DownBackend(BaseEmailBackend):
    """Every send fails the way an unreachable SMTP server does."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class FlakyBackend(LocmemBackend):
    """Fails ``OUTAGE['failures_left']`` times, then delivers to ``django.core.mail.outbox``."""

    def send_messages(self, email_messages):
        if OUTAGE["failures_left"] > 0:
            OUTAGE["failures_left"] -= 1
            raise ConnectionRefusedError(111, "Connection refused")
        return super().send_messages(email_messages)
