"""E-mail backends for the tests: a mail server that is down, one that is down for a while, and one that
answers only when the test lets it."""

from __future__ import annotations

import smtplib
import threading

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


SLOW = {"answer": threading.Event(), "waiting": threading.Event()}


class SlowBackend(LocmemBackend):
    """Holds every send until ``SLOW['answer']`` is set (at most 20 s), then delivers like locmem."""

    def send_messages(self, email_messages):
        SLOW["waiting"].set()
        if not SLOW["answer"].wait(timeout=20):
            raise smtplib.SMTPServerDisconnected("The test never let the mail server answer")
        return super().send_messages(email_messages)
