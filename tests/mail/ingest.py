"""What the intake tests do over and over: an order bought a moment ago, and one run of ``ingest_mail``."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from tests.conftest import make_order


def recent_order(storefront, email="kim@example.com"):
    return make_order(storefront, email=email, purchased_at=timezone.now() - timedelta(hours=3))


def run(url: str) -> str:
    """The command's standard output, for one mailbox URL."""
    out = StringIO()
    call_command("ingest_mail", "--mailbox", url, stdout=out, stderr=StringIO())
    return out.getvalue()
