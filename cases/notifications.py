"""Customer e-mails. Always from the storefront's support address (S0-SUPPORT-COMMS).

Called from ``transaction.on_commit`` so a rolled-back action never mails the customer.
"""

from __future__ import annotations

import logging
from email.utils import formataddr

from django.core.mail import EmailMessage
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


# Messages that answer one of the customer's own e-mails (RFC 3834 "auto-replied"); every other
# message we send is "auto-generated". Either way the customer's robots must not answer us.
REPLY_TEMPLATES = frozenset({"received"})


def send_storefront_mail(*, storefront, to: str, subject: str, body: str, reply: bool = False) -> bool:
    """Send one message from the storefront's support address; False (logged) if it failed.

    The action behind the mail is already committed: a mail outage must not hide that or undo it.
    """
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=formataddr((storefront.name, storefront.support_email)),
        to=[to],
        reply_to=[storefront.support_email],
        headers={
            # RFC 3834: well-behaved auto-responders stay silent; Exchange honours its own header.
            "Auto-Submitted": "auto-replied" if reply else "auto-generated",
            "X-Auto-Response-Suppress": "All",
        },
    )
    try:
        message.send()
    except Exception:
        logger.exception("Could not send %r to %s", subject, to)
        return False
    return True


def send_case_email(*, case_id: int, template: str, extra: dict | None = None) -> None:
    from cases.models import RefundCase

    case = RefundCase.objects.select_related("order__storefront", "order__customer").get(pk=case_id)
    storefront = case.order.storefront
    context = {
        "case": case,
        "storefront": storefront,
        "customer": case.order.customer,
        "decision": case.decision,
        "payout": getattr(case, "payout", None),
        **(extra or {}),
    }
    send_storefront_mail(
        storefront=storefront,
        to=case.order.customer.email,
        subject=render_to_string(f"cases/email/{template}_subject.txt", context).strip(),
        body=render_to_string(f"cases/email/{template}.txt", context),
        reply=template in REPLY_TEMPLATES,
    )
