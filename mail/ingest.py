"""Reading intake mailboxes: each message handled once, put away, and never lost.

For every message a source still holds: if the intake already has it (by mailbox and UID, or by
Message-ID) it is only put away again; if it was kept aside before it stays aside; otherwise it is
parsed and handed to :func:`mail.intake.intake_email` with its images. A message that fails (it
cannot be parsed, no storefront takes it, the database refuses it) is recorded as an
:class:`~cases.models.IntakeFailure` with its error and its bytes, moved to the failed folder, and the
run goes on with the next one.
"""

from __future__ import annotations

import email
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from mail.html import html_to_text
from mail.intake import Attachment, intake_email, is_address
from mail.mailboxes import MailboxConfig, open_source, parse_mailbox_url
from mail.models import IntakeFailure, IntakeMessage
from orders.models import Storefront

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".heic", ".heif")
FOLDING = re.compile(r"\r?\n[ \t]+")
RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "to", "cc")
# Real mail nests a few levels (a forwarded message with attachments); a thousand levels is an attack
# on the parser, which recurses once per level.
MAX_NESTING = 50
RECEIVED_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))', re.IGNORECASE)


class IntakeMessageError(Exception):
    """Why a message cannot be handled, in words for the person who looks at the kept-aside list."""


@dataclass
class IngestReport:
    processed: int = 0  # handed to the intake this run
    already: int = 0  # handled before (by this run's twin, or an earlier run): only put away
    kept_aside: int = 0  # failed now or before; see IntakeFailure
    outcomes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedMail:
    sender: str
    subject: str
    body: str
    headers: dict[str, str]
    recipients: list[str]
    attachments: list[Attachment]
    received_at: datetime | None


def ingest_configured(*, limit: int | None = None) -> dict[str, IngestReport]:
    """Every mailbox in ``INTAKE_MAILBOXES``; one that cannot be reached is logged and the others go on."""
    reports = {}
    for url in settings.INTAKE_MAILBOXES:
        config = parse_mailbox_url(url)
        try:
            reports[config.name] = ingest(config, limit=limit)
        except Exception:
            logger.exception("Could not read intake mailbox %s", config.name)
    return reports


def ingest(config: MailboxConfig, *, limit: int | None = None, now: datetime | None = None) -> IngestReport:
    report = IngestReport()
    with open_source(config) as source:
        for uid, raw in source.messages(limit or settings.INTAKE_BATCH):
            kind, words = ingest_one(config, uid, raw, now=now)
            report.outcomes.append(f"{uid}: {words}")
            if kind == ASIDE:
                report.kept_aside += 1
            elif kind == ALREADY:
                report.already += 1
            else:
                report.processed += 1
            _put_away(config, source, uid, kind, now or timezone.now())
    return report


def _put_away(config: MailboxConfig, source, uid: str, kind: str, now: datetime) -> None:
    """Move (or flag) the message once: under the lock of its record, so that of two runs holding it
    only the first moves it (a second MOVE from a session that has not yet seen the first would copy it)."""
    model = IntakeFailure if kind == ASIDE else IntakeMessage
    with transaction.atomic():
        record = model.objects.select_for_update().filter(mailbox=config.name, uid=uid).first()
        if record is not None and record.put_away_at is not None:
            return
        (source.failed if kind == ASIDE else source.done)(uid)
        if record is not None:
            record.put_away_at = now
            record.save(update_fields=["put_away_at"])


PROCESSED, ALREADY, ASIDE = "processed", "already", "aside"


def ingest_one(config: MailboxConfig, uid: str, raw: bytes, *, now: datetime | None = None) -> tuple[str, str]:
    """Handle one message: PROCESSED, ALREADY or ASIDE, and what happened in a few words."""
    now = now or timezone.now()
    if IntakeMessage.objects.filter(mailbox=config.name, uid=uid).exists():
        return ALREADY, "already processed"
    if IntakeFailure.objects.filter(mailbox=config.name, uid=uid, resolved_at__isnull=True).exists():
        return ASIDE, "kept aside earlier"
    parsed = None
    try:
        if len(raw) > settings.INTAKE_MAX_MESSAGE_BYTES:
            raise IntakeMessageError(f"the message is {len(raw)} bytes, over the {settings.INTAKE_MAX_MESSAGE_BYTES} limit")
        parsed = parse_mail(raw)
        storefront = storefront_for(config, parsed.recipients)
        result = intake_email(
            storefront=storefront, sender=parsed.sender, subject=parsed.subject, body=parsed.body,
            received_at=parsed.received_at or now, headers=parsed.headers, attachments=parsed.attachments,
            mailbox=config.name, uid=uid, mailbox_address=config.address,
        )
    except Exception as error:  # one bad message must not stop the mailbox: keep it aside, go on
        logger.warning("Intake message %s in %s kept aside: %s", uid, config.name, error, exc_info=True)
        return ASIDE, "kept aside: " + _keep_aside(config, uid, raw, parsed, error, now)
    return (ALREADY if result.reason == "already processed" else PROCESSED), result.reason


def _keep_aside(config: MailboxConfig, uid: str, raw: bytes, parsed: ParsedMail | None, error: Exception,
                now: datetime) -> str:
    words = str(error) if isinstance(error, IntakeMessageError) else f"{type(error).__name__}: {error}"
    try:
        with transaction.atomic():
            IntakeFailure.objects.update_or_create(
                mailbox=config.name, uid=uid,
                defaults={
                    "error": words[:4000], "raw": raw, "created_at": now, "resolved_at": None,
                    "message_id": (parsed.headers.get("Message-ID", "") if parsed else "")[:998],
                    "sender": (parsed.sender if parsed else "")[:320],
                    "subject": (parsed.subject if parsed else "")[:500],
                },
            )
    except IntegrityError:  # a twin run recorded it at the same moment
        pass
    return words


def storefront_for(config: MailboxConfig, recipients: list[str]) -> Storefront:
    if config.storefront:
        storefront = Storefront.objects.filter(slug=config.storefront).first()
        if storefront is None:
            raise IntakeMessageError(f"the mailbox names storefront {config.storefront!r}, which does not exist")
        return storefront
    for address in recipients:
        storefront = Storefront.objects.filter(support_email__iexact=address).first()
        if storefront is not None:
            return storefront
    raise IntakeMessageError(f"no storefront's support address among the recipients ({', '.join(recipients) or 'none'})")


def parse_mail(raw: bytes) -> ParsedMail:
    if nesting_depth(raw) > MAX_NESTING:
        raise IntakeMessageError(f"the message has parts inside parts more than {MAX_NESTING} levels deep")
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
        return _parsed(raw, message)
    except RecursionError:  # the cap above is a guess at what the parser survives; this is the backstop
        raise IntakeMessageError("the message has parts nested too deeply to be read") from None


def nesting_depth(raw: bytes) -> int:
    """How many multipart parts are open at once, read from boundary lines without the recursive parser.

    A boundary is counted open from the line that declares it until its closing line, so text that
    only mentions "boundary=" can make the count larger, never smaller.
    """
    open_boundaries: list[bytes] = []
    deepest = 0
    for line in raw.splitlines():
        declared = BOUNDARY.search(line)
        if declared:
            open_boundaries.append(declared.group(1) or declared.group(2))
            deepest = max(deepest, len(open_boundaries))
            continue
        line = line.rstrip()
        if line.startswith(b"--") and line.endswith(b"--") and line[2:-2] in open_boundaries:
            # The innermost part of that name closes (a boundary may be reused inside its own part).
            innermost = len(open_boundaries) - 1 - open_boundaries[::-1].index(line[2:-2])
            del open_boundaries[innermost:]
    return deepest


def _parsed(raw: bytes, message: EmailMessage) -> ParsedMail:
    if not isinstance(message, EmailMessage) or not message.keys():
        raise IntakeMessageError("this is not an e-mail message (no headers)")
    headers: dict[str, str] = {}
    for key, value in message.raw_items():
        text = FOLDING.sub(" ", _header_text(value)).strip()
        # Repeated headers (Authentication-Results from several hops) are read together.
        headers[key] = f"{headers[key]}; {text}" if key in headers else text
    if not any(key.lower() == "message-id" for key in headers):
        # No Message-ID: the bytes themselves identify it, so a second delivery is still recognised.
        headers["Message-ID"] = f"<sha256-{hashlib.sha256(raw).hexdigest()}@intake.invalid>"
    sender = parseaddr(_header_text(message.get("From", "")))[1]
    if not sender:
        raise IntakeMessageError("the message has no sender address (From)")
    if not is_address(sender):
        # "From: Just A Name": a reply would go nowhere, or to a local user of our own mail server.
        written = next((value for key, value in headers.items() if key.lower() == "from"), sender)
        raise IntakeMessageError(f"the sender (From) gives no e-mail address, only a name: {written[:200]}")
    recipients = [addr.lower() for _, addr in getaddresses(
        [_header_text(v) for key in RECIPIENT_HEADERS for v in (message.get_all(key) or [])]
    ) if addr]
    return ParsedMail(
        sender=sender, subject=_header_text(message.get("Subject", "")), body=_body_text(message), headers=headers,
        recipients=recipients, attachments=_images(message), received_at=_received_at(message),
    )


def _header_text(value) -> str:
    try:
        return str(value or "")
    except Exception:  # noqa: BLE001 (an undecodable header is kept as raw text)
        return repr(value)


def _decoded(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError):  # an unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decoded(part)
    return html_to_text(text) if part.get_content_subtype() == "html" else text


def _images(message: EmailMessage) -> list[Attachment]:
    images = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_filename() or ""
        is_image = part.get_content_maintype() == "image" or name.lower().endswith(IMAGE_EXTENSIONS)
        if not is_image or part.get_content_disposition() not in ("attachment", "inline", None):
            continue
        if part.get_content_disposition() is None and part is message:
            continue
        content = part.get_payload(decode=True) or b""
        images.append(Attachment(name=name or f"image-{len(images) + 1}", content=content,
                                 content_type=part.get_content_type()))
        if len(images) >= settings.INTAKE_MAX_ATTACHMENTS:
            break
    return images


def _received_at(message: EmailMessage) -> datetime | None:
    """When a mail server of ours (``INTAKE_TRUSTED_RECEIVERS``) received the message: the date of the
    topmost Received header it added. None (the time of reading) when none of ours added one.

    Any Received header below our servers' was written before the message reached us, so by the
    sender if they wished: only the host name in "by" of a header our server put on top can be believed.
    """
    trusted = set(settings.INTAKE_TRUSTED_RECEIVERS)
    for header in message.get_all("Received") or []:
        text = FOLDING.sub(" ", _header_text(header))
        by = RECEIVED_BY.search(text)
        if by is None or by.group(1).lower().rstrip(".") not in trusted:
            continue
        try:
            when = parsedate_to_datetime(text.rpartition(";")[2].strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None or when > timezone.now():
            return None
        return when
    return None
