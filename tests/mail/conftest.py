"""Fixtures of the intake tests: a real IMAP server where dovecot is installed."""

from tests.mail.dovecot import dovecot, imap  # noqa: F401
