"""E-mail intake (S0-REQUEST): a refund e-mail opens a case, or gets a reply asking for the order.

A reply to one of our e-mails (its subject keeps the case number) adds to that case instead. The
mailbox reader (``cases.mail_ingest``, or a provider's webhook) hands each message to
:func:`intake_email`, which decides and acts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from cases import services
from cases.errors import CaseActionError
from cases.events import record_event
from cases.models import CaseEvent, Evidence, IntakeMessage, RefundCase
from cases.notifications import send_storefront_mail
from cases.states import Channel, Reason
from orders.models import Order, Storefront

SUBJECT_MARKER = "refund request"
ORDER_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{2,39}")
# A sender's Date older than this before we received the message is not believed: mail is rarely
# held that long, and a backdated Date would otherwise move a request into a refund window.
MAX_TRANSIT = timedelta(hours=24)
AUTH_RESULT = re.compile(r"\b(dmarc|dkim|spf)\s*=\s*([a-z]+)")
AUTH_DOMAIN = re.compile(r"\b(?:header\.from|header\.d|header\.i|smtp\.mailfrom|smtp\.helo)\s*=\s*([^\s;]+)")
FAILED = {"fail", "softfail"}
# Exchange marks its own robot mail (out-of-office, inbox rules, reports) with these.
EXCHANGE_ROBOT_HEADERS = (
    "x-auto-response-suppress",
    "x-ms-exchange-generated-message-source",
    "x-ms-exchange-inbox-rules-loop",
    "x-ms-exchange-message-is-ndr",
)


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
    attachments: Sequence[Attachment] = (),
    mailbox: str = "",
    uid: str = "",
) -> IntakeResult:
    """Handle one e-mail, once: by its Message-ID on this storefront, and by ``uid`` in ``mailbox``.

    ``attachments`` (images the customer sent) become the case's evidence through the upload checks.
    """
    received_at = received_at or timezone.now()
    headers = headers or {}
    # PostgreSQL text cannot hold NUL; nobody wrote one on purpose.
    sender, subject, body = (_clean(value) for value in (sender, subject, body))
    message_id = _clean(_header(headers, "message-id")).strip().strip("<>").strip()
    if not message_id and uid:
        message_id = f"{mailbox}#{uid}"
    with transaction.atomic():
        record = None
        if message_id:
            try:
                # The insert is the claim: a second run holding the same message waits here for the
                # first one's transaction, then finds the row and stops.
                with transaction.atomic():
                    record = IntakeMessage.objects.create(
                        storefront=storefront, message_id=message_id[:998], received_at=received_at,
                        mailbox=mailbox[:300], uid=uid[:200],
                    )
            except IntegrityError:
                return IntakeResult(case=None, replied=False, reason="already processed")
        result = _handle(storefront, sender, subject, body, received_at, headers, attachments)
        if record is not None:
            record.outcome = result.reason[:200]
            record.case = result.case
            record.save(update_fields=["outcome", "case"])
    return result


def _handle(
    storefront: Storefront, sender: str, subject: str, body: str, received_at: datetime, headers: Mapping[str, str],
    attachments: Sequence[Attachment] = (),
) -> IntakeResult:
    if is_automatic(headers):
        return IntakeResult(case=None, replied=False, reason="automatic message")
    if failed_authentication(headers, sender):
        # Someone else may be writing in the customer's name: no case, and no reply to the forged address.
        return IntakeResult(case=None, replied=False, reason="sender authentication failed")
    answered = _case_answered(storefront, sender, subject)
    if answered is not None:
        return _add_reply(answered, body, attachments, received_at)
    if SUBJECT_MARKER not in subject.lower():
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
            requested_at=request_time(headers, received_at=received_at, purchased_at=order.purchased_at),
            now=received_at,
        )
    except CaseActionError as error:
        return IntakeResult(case=None, replied=False, reason=error.message)
    refused = _attach(case, attachments, received_at)
    return IntakeResult(case=case, replied=False, reason="opened" + _refusals(refused))


@dataclass(frozen=True)
class Attachment:
    """A file that came with an e-mail, as the mailbox reader found it."""

    name: str
    content: bytes
    content_type: str = ""


# Our subjects start with "[RC-XXXXXXXX]": a reply keeps it, and names the case it answers.
CASE_IN_SUBJECT = re.compile(r"\[(RC-[A-Z0-9]{8})\]")
MAX_REPLY_TEXT = 4000


def _case_answered(storefront: Storefront, sender: str, subject: str) -> RefundCase | None:
    """The case a reply is about: named in the subject, on this storefront, and the sender's own."""
    match = CASE_IN_SUBJECT.search(subject.upper())
    if match is None:
        return None
    return (
        RefundCase.objects.select_related("order__storefront", "order__customer")
        .filter(number=match.group(1), order__storefront=storefront, order__customer__email__iexact=sender.strip())
        .first()
    )


def _add_reply(case: RefundCase, body: str, attachments: Sequence[Attachment], received_at: datetime) -> IntakeResult:
    """The customer answered by e-mail: their images become evidence, their words go on the case."""
    refused = _attach(case, attachments, received_at)
    text = _without_quote(body)[:MAX_REPLY_TEXT]
    locked = services.lock_case(case.pk, received_at)
    record_event(
        locked, actor=None, actor_label="customer", kind=CaseEvent.Kind.COMMENT, now=received_at,
        comment=text or "(an e-mail without text)", visibility=CaseEvent.Visibility.CUSTOMER,
        data={"channel": Channel.EMAIL, "attachments": len(attachments) - len(refused)},
    )
    locked.flagged = True
    locked.flag_reason = "The customer replied by e-mail."
    locked.customer_wrote_at = locked.customer_wrote_at or received_at
    locked.save(update_fields=["flagged", "flag_reason", "customer_wrote_at", "updated_at"])
    return IntakeResult(case=locked, replied=False, reason="reply added" + _refusals(refused))


def _attach(case: RefundCase, attachments: Sequence[Attachment], received_at: datetime) -> list[str]:
    """Each image through the upload checks; the refusals, in words (the rest are stored)."""
    from cases.evidence import evidence_add  # the upload pipeline imports the case services

    refused = []
    for attachment in attachments:
        try:
            evidence_add(
                case=case, kind=Evidence.Kind.SCREENSHOT, upload=ContentFile(attachment.content, name=attachment.name),
                from_customer=True, now=received_at,
            )
        except CaseActionError as error:
            refused.append(f"{attachment.name}: {error.message}")
    return refused


def _refusals(refused: list[str]) -> str:
    return f"; attachments refused: {'; '.join(refused)}" if refused else ""


def _without_quote(body: str) -> str:
    """The customer's own words: the quoted message below them dropped."""
    lines = []
    for line in body.strip().splitlines():
        if line.startswith(">") or re.match(r"^On .+ wrote:$", line.strip()):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def request_time(headers: Mapping[str, str], *, received_at: datetime, purchased_at: datetime | None) -> datetime:
    """The sender's Date when it is believable: not after we received it, not before the order."""
    try:
        sent = parsedate_to_datetime(_header(headers, "date"))
    except (TypeError, ValueError, IndexError):
        return received_at
    if sent is None or sent.tzinfo is None:  # no zone: no way to place it in time
        return received_at
    if sent > received_at or sent < received_at - MAX_TRANSIT:
        return received_at
    if purchased_at is not None and sent < purchased_at:
        return received_at
    return sent


def failed_authentication(headers: Mapping[str, str], sender: str) -> bool:
    """An Authentication-Results entry that failed DMARC, DKIM or SPF for the sender's own domain.

    A failure for another domain (a mailing list's signature, a forwarder's SPF) says nothing about
    the sender; a failure naming no domain is taken to be about the message's From.
    """
    domain = sender.rpartition("@")[2].strip().strip(">").lower()
    report = _header(headers, "authentication-results").lower()
    for entry in report.split(";"):
        results = AUTH_RESULT.findall(entry)
        if not any(result in FAILED for _, result in results):
            continue
        domains = [found.rpartition("@")[2].strip("<>\"") for found in AUTH_DOMAIN.findall(entry)]
        if not domains or any(d == domain or d.endswith("." + domain) for d in domains):
            return True
    return False


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value or ""
    return ""


def _clean(text: str | None) -> str:
    return (text or "").replace("\x00", "")


def _reply(storefront: Storefront, sender: str, subject: str, missing: str, received_at: datetime) -> IntakeResult:
    context = {"storefront": storefront, "subject": subject, "missing": missing}
    # Written to the outbox with the intake record: both exist, or neither.
    send_storefront_mail(
        storefront=storefront,
        to=sender,
        # Never the intake marker: an auto-responder quoting our subject would open a case or loop.
        subject=f"About your e-mail to {storefront.name}",
        body=render_to_string("cases/email/intake_reply.txt", context),
        reply=True,
    )
    return IntakeResult(case=None, replied=True, reason=f"missing {missing}")


def is_automatic(headers: Mapping[str, str]) -> bool:
    """Auto-replies (RFC 3834, Exchange), list and bulk mail, bounces: answering them risks a mail loop."""
    lowered = {key.lower(): (value or "").strip().lower() for key, value in headers.items()}
    return (
        lowered.get("auto-submitted", "no").split(";")[0].strip() not in {"no", ""}
        or lowered.get("precedence", "") in {"bulk", "junk", "list", "auto_reply"}
        or any(name in lowered for name in ("x-autoreply", "x-autorespond", "list-id", *EXCHANGE_ROBOT_HEADERS))
        or lowered.get("return-path", "") == "<>"
    )
