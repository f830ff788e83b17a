"""Customer e-mails. Always from the storefront's support address (S0-SUPPORT-COMMS).

Each e-mail is rendered (plain text, and HTML where the template has one) and written to the outbox
in the caller's transaction: it exists exactly when the change it reports was committed, and a worker
sends it afterwards with retries (see ``cases.outbox``). A mail outage never undoes or hides a change.
"""

from __future__ import annotations

import logging

from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string

from cases.customer_words import arrival_words, clause_words
from cases.links import portal_link_request_url
from cases.models import RefundCase
from cases.outbox import queue_mail
from policies.selectors import policy_for_order
from rules.engine import payment_method_words

logger = logging.getLogger(__name__)


# Messages that answer one of the customer's own e-mails (RFC 3834 "auto-replied"); every other
# message we send is "auto-generated". Either way the customer's robots must not answer us.
REPLY_TEMPLATES = frozenset({"received"})


def send_storefront_mail(*, storefront, to: str, subject: str, body: str, html: str = "", reply: bool = False):
    """Queue one message from the storefront's support address; the outbox row is returned."""
    return queue_mail(storefront=storefront, to=to, subject=subject, text=body, html=html, auto_reply=reply)


def render_html(template: str, context: dict) -> str:
    """The HTML part of ``template``, or "" where it has only a text version."""
    try:
        html = get_template(f"cases/email/{template}.html")
    except TemplateDoesNotExist:
        return ""
    return html.render(context)


def case_email_context(case, extra: dict | None = None, *, clauses: dict | None = None) -> dict:
    """``clauses``: the clause texts by ID, when the caller has read them already (a batch of mails)."""

    decision = case.decision or {}
    payout = getattr(case, "payout", None)
    return {
        "case": case,
        "storefront": case.order.storefront,
        "customer": case.order.customer,
        "decision": decision,
        "payout": payout,
        "payout_method_words": payment_method_words(payout.method) if payout else "",
        "deny_reason_words": case.get_deny_reason_display() if case.deny_reason else "",
        # Only the mail that issues a link carries it (``extra``); the others say where to ask again.
        "portal_url": "",
        "link_request_url": portal_link_request_url(case),
        # The clauses the decision cites in the words the customer's case page uses: the policy's own,
        # house rules in ours, never a clause code or a staff note on the published text.
        "clause_words": clause_words(decision.get("clauses"), policy=policy_for_order(case.order), texts=clauses),
        "arrival_words": arrival_words(case) if payout else [],
        **(extra or {}),
    }


def send_case_email(*, case_id: int, template: str, extra: dict | None = None):
    """Write the ``template`` e-mail about case ``case_id`` to its customer's outbox; returns the row.

    Call it inside the transaction of the change (the mail then exists only if the change commits),
    or after it. ``extra`` adds to the template context (the agent's message, a note…).
    """

    case = RefundCase.objects.select_related("order__storefront", "order__customer", "order__subscription").get(
        pk=case_id
    )
    return queue_mail(**case_email(case, template, extra))


def case_email(case, template: str, extra: dict | None = None, *, clauses: dict | None = None) -> dict:
    """The ``template`` e-mail about ``case`` to its customer, rendered: the fields of its outbox row.

    ``case`` comes with its order's storefront, customer and subscription; ``clauses`` as in
    ``case_email_context``.
    """
    context = case_email_context(case, extra, clauses=clauses)
    return {
        "storefront": case.order.storefront,
        "to": case.order.customer.email,
        "subject": " ".join(render_to_string(f"cases/email/{template}_subject.txt", context).split()),
        "text": render_to_string(f"cases/email/{template}.txt", context),
        "html": render_html(template, context),
        "auto_reply": template in REPLY_TEMPLATES,
        "case": case,
        "template": template,
    }
