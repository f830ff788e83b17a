"""E-mail intake (S0-REQUEST): a refund e-mail opens a case, or gets a reply asking for the order.

A reply to one of our e-mails (its subject keeps the case number) adds to that case instead. The
mailbox reader (``mail.ingest``, or a provider's webhook) hands each message to
:func:`intake_email`, which decides and acts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from cases import services
from cases.events import record_event
from cases.evidence import evidence_add
from cases.models import CaseEvent, Evidence, RefundCase
from cases.notifications import send_storefront_mail
from cases.states import Channel, Reason
from core.errors import CaseActionError
from mail.mailboxes import MailboxConfigError, parse_mailbox_url
from mail.models import IntakeMessage, IntakeReply
from orders.models import Order, Storefront

SUBJECT_MARKER = "refund request"
ORDER_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{2,39}")
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
EMPTY_PATH = re.compile(r"<\s*>")
# Mail servers' own addresses: what they send is a delivery report, never a customer.
SERVER_SENDERS = frozenset({"mailer-daemon", "postmaster"})


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
    mailbox_address: str = "",
) -> IntakeResult:
    """Handle one e-mail, once: by its Message-ID on this storefront, and by ``uid`` in ``mailbox``.

    ``attachments`` (images the customer sent) become the case's evidence through the upload checks.
    ``mailbox_address``: the address the mailbox receives for, one of ours that is never answered.
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
        result = _handle(storefront, sender, subject, body, received_at, headers, attachments, mailbox_address)
        if record is not None:
            record.outcome = result.reason[:200]
            record.case = result.case
            record.save(update_fields=["outcome", "case"])
    return result


def _handle(
    storefront: Storefront, sender: str, subject: str, body: str, received_at: datetime, headers: Mapping[str, str],
    attachments: Sequence[Attachment] = (), mailbox_address: str = "",
) -> IntakeResult:
    if not is_address(sender):
        return IntakeResult(case=None, replied=False, reason="no sender address")
    if is_automatic(headers):
        return IntakeResult(case=None, replied=False, reason="automatic message")
    if is_delivery_report(sender, headers):
        return IntakeResult(case=None, replied=False, reason="delivery report")
    if sender.strip().lower() in our_addresses(also=mailbox_address):
        # Our own mail coming back (a forward, a misrouted copy): answering it would start a loop.
        return IntakeResult(case=None, replied=False, reason="sent from one of our own addresses")
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
            # Never the sender's Date: money must not follow a header the sender writes.
            requested_at=received_at,
            now=received_at,
        )
    except CaseActionError as error:
        return IntakeResult(case=None, replied=False, reason=error.message)
    _note_sender_date(case, headers, received_at)
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
    locked = services.lock_case(case.pk)
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


def sender_date(headers: Mapping[str, str]) -> datetime | None:
    """The time the sender's mail program wrote in ``Date``, if it gives one with its zone."""
    try:
        sent = parsedate_to_datetime(_header(headers, "date"))
    except (TypeError, ValueError, IndexError):
        return None
    if sent is None or sent.tzinfo is None:  # no zone: no way to place it in time
        return None
    return sent


def _note_sender_date(case: RefundCase, headers: Mapping[str, str], received_at: datetime) -> None:
    """Staff see what the mail claims; the policy window runs from when our mail server received it."""
    sent = sender_date(headers)
    if sent is None:
        return
    record_event(
        case, actor=None, actor_label="intake", kind=CaseEvent.Kind.COMMENT, now=received_at,
        comment=(
            f"The customer's mail says it was sent at {_words(sent)}. The request time is when it reached "
            f"us, {_words(received_at)}."
        ),
        visibility=CaseEvent.Visibility.INTERNAL, data={"sender_date": sent.isoformat()},
    )


def _words(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%d %B %Y, %H:%M UTC").lstrip("0")


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


def is_address(sender: str) -> bool:
    """An e-mail address we could write to, not a bare name ("Just A Name") or a local user ("kim")."""
    try:
        validate_email(sender.strip())
    except ValidationError:
        return False
    return True


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value or ""
    return ""


def _clean(text: str | None) -> str:
    return (text or "").replace("\x00", "")


def _reply(storefront: Storefront, sender: str, subject: str, missing: str, received_at: datetime) -> IntakeResult:
    # A robot without RFC 3834 headers answering every message, or a customer writing ten times: one
    # reply a day is enough to tell them what we need, and it keeps a loop to one message a day.
    try:
        with transaction.atomic():
            IntakeReply.objects.create(sender=sender.strip().lower()[:320], day=timezone.now().date(),
                                       storefront=storefront)
    except IntegrityError:
        return IntakeResult(case=None, replied=False, reason=f"missing {missing}; this sender was answered today")
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


def our_addresses(*, also: str = "") -> set[str]:
    """Every address we send from or receive at: each storefront's support address, the default sender,
    and the intake mailboxes' addresses."""
    found = {email for email in Storefront.objects.values_list("support_email", flat=True)}
    found |= {parseaddr(settings.DEFAULT_FROM_EMAIL)[1], parseaddr(settings.SERVER_EMAIL)[1], also}
    for url in settings.INTAKE_MAILBOXES:
        try:
            found.add(parse_mailbox_url(url).address)
        except MailboxConfigError:
            continue
    return {address.strip().lower() for address in found if address and address.strip()}


def is_delivery_report(sender: str, headers: Mapping[str, str]) -> bool:
    """A bounce or delivery notice: from a mail server's own address, or a multipart/report."""
    local_part = sender.strip().rpartition("@")[0].lower()
    content_type = _header(headers, "content-type").strip().lower()
    return local_part in SERVER_SENDERS or content_type.startswith("multipart/report")


def is_automatic(headers: Mapping[str, str]) -> bool:
    """Auto-replies (RFC 3834, Exchange), list and bulk mail, bounces: answering them risks a mail loop."""
    lowered = {key.lower(): (value or "").strip().lower() for key, value in headers.items()}
    return (
        lowered.get("auto-submitted", "no").split(";")[0].strip() not in {"no", ""}
        or lowered.get("precedence", "") in {"bulk", "junk", "list", "auto_reply"}
        or any(name in lowered for name in ("x-autoreply", "x-autorespond", "list-id", *EXCHANGE_ROBOT_HEADERS))
        # An empty return path is how a mail server marks its own reports; repeated ones are joined by ";".
        or any(EMPTY_PATH.fullmatch(path.strip()) for path in lowered.get("return-path", "").split(";"))
    )
