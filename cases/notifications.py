"""Customer e-mails. Always from the storefront's support address (S0-SUPPORT-COMMS).

Called from ``transaction.on_commit`` so a rolled-back action never mails the customer.
"""

from __future__ import annotations

import logging

from django.core.mail import EmailMessage
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


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
    subject = render_to_string(f"cases/email/{template}_subject.txt", context).strip()
    body = render_to_string(f"cases/email/{template}.txt", context)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=f"{storefront.name} <{storefront.support_email}>",
        to=[case.order.customer.email],
        reply_to=[storefront.support_email],
    )
    try:
        message.send()
    except Exception:  # the case is already committed; a mail outage must not hide that
        logger.exception("Could not send %s e-mail for case %s", template, case.number)
