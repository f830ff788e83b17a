"""E-mail intake (S0-REQUEST): a refund e-mail opens a case, or gets a reply asking for the order.

The mailbox reader (IMAP, a provider webhook) is not part of this module: it hands each message to
:func:`intake_email`, which decides and acts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from cases import services
from cases.errors import CaseActionError
from cases.models import RefundCase
from cases.notifications import send_storefront_mail
from cases.states import Channel, Reason
from orders.models import Order, Storefront

SUBJECT_MARKER = "refund request"
ORDER_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{2,39}")


@dataclass(frozen=True)
class IntakeResult:
    case: RefundCase | None
    replied: bool
    reason: str  # why no case was opened, or "opened"


def find_order(*, storefront: Storefront, sender: str, text: str) -> Order | None:
    """The sender's own order whose number appears in ``text`` ('#1234', 'order 1234', ...)."""
    tokens = {token.upper() for token in ORDER_TOKEN.findall(text)}
    if not tokens:
        return None
    orders = Order.objects.filter(storefront=storefront, customer__email__iexact=sender.strip())
    # A customer has a handful of orders: load them whole, ready for case_create.
    for order in orders.select_related("storefront", "plan", "customer", "subscription").order_by("-purchased_at"):
        if order.number.upper() in tokens:
            return order
    return None


def intake_email(
    *,
    storefront: Storefront,
    sender: str,
    subject: str,
    body: str,
    received_at: datetime | None = None,
    headers: Mapping[str, str] | None = None,
) -> IntakeResult:
    received_at = received_at or timezone.now()
    if is_automatic(headers or {}):
        return IntakeResult(case=None, replied=False, reason="automatic message")
    if SUBJECT_MARKER not in (subject or "").lower():
        return _reply(storefront, sender, subject, "subject", received_at)
    order = find_order(storefront=storefront, sender=sender, text=f"{subject}\n{body}")
    if order is None:
        return _reply(storefront, sender, subject, "order", received_at)
    try:
        case = services.case_create(
            order=order,
            reason=Reason.OTHER,
            description=body.strip(),
            channel=Channel.EMAIL,
            reason_confirmed=False,
            requested_at=received_at,
            now=received_at,
        )
    except CaseActionError as error:
        return IntakeResult(case=None, replied=False, reason=error.message)
    return IntakeResult(case=case, replied=False, reason="opened")


def _reply(storefront: Storefront, sender: str, subject: str, missing: str, received_at: datetime) -> IntakeResult:
    context = {"storefront": storefront, "subject": subject, "missing": missing}
    transaction.on_commit(partial(
        send_storefront_mail,
        storefront=storefront,
        to=sender,
        subject=f"Re: {subject}".strip() if subject else "Your refund request",
        body=render_to_string("cases/email/intake_reply.txt", context),
    ))
    return IntakeResult(case=None, replied=True, reason=f"missing {missing}")


def is_automatic(headers: Mapping[str, str]) -> bool:
    """RFC 3834 auto-replies, bulk mail and bounces: answering them risks a mail loop."""
    lowered = {key.lower(): (value or "").lower() for key, value in headers.items()}
    return (
        lowered.get("auto-submitted", "no") != "no"
        or lowered.get("precedence", "") in {"bulk", "junk", "list", "auto_reply"}
        or "x-autoreply" in lowered
        or lowered.get("return-path", "") == "<>"
    )
