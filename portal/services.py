"""What a customer does in the portal: ask for a refund, ask for their link, send files, withdraw.

Each function is a service in the house sense (locks, checks, event, mail after commit); the views
only parse forms and choose the page. Whether an order matched is never part of what a view shows:
these functions return it for the tests and the logs, not for the customer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from cases import services
from cases.customer_links import case_link_resend, issue_link, link_days, link_url
from cases.events import mail_customer_after_commit, record_event
from cases.evidence import evidence_add
from cases.models import CaseEvent, CaseLink, Evidence, RefundCase
from cases.services.base import lock_case
from cases.states import OPEN_STATES, UNDECIDED_STATES, Channel, State
from core.errors import CaseActionError, Code
from core.typing import Uploads
from orders.models import Order, Storefront
from portal.forms import MAX_MESSAGE_LENGTH
from portal.models import PendingFile

CUSTOMER = "customer"
REPEAT_WINDOW = timedelta(minutes=10)


@dataclass
class FileResult:
    name: str
    accepted: bool
    why: str = ""


@dataclass
class RequestOutcome:
    case: RefundCase | None  # None: no order of that number with that e-mail (never shown)
    opened: bool = False
    files: list[FileResult] = field(default_factory=list)


def find_customer_order(*, storefront: Storefront, order_number: str, email: str) -> Order | None:
    """The order of that number on the storefront, only if ``email`` is its customer's."""
    number = (order_number or "").strip().lstrip("#").strip()
    email = (email or "").strip()
    if not number or not email:
        return None
    return (
        Order.objects.select_related("storefront", "plan", "customer", "subscription")
        .filter(storefront=storefront, number__iexact=number, customer__email__iexact=email)
        .first()
    )


def _add_files(case: RefundCase, files: Uploads, *, now: datetime) -> list[FileResult]:
    """Uploads, or a submission's files that the upload pipeline already judged (``PendingFile``)."""
    from portal.submissions import as_prepared

    results = []
    for upload in files:
        pending = isinstance(upload, PendingFile)
        name = upload.original_name if pending else str(getattr(upload, "name", "") or "")[:200]
        if pending and upload.refusal:
            results.append(FileResult(name, False, upload.refusal))
            continue
        try:
            if pending:
                evidence_add(case=case, kind=Evidence.Kind.SCREENSHOT, prepared=as_prepared(upload),
                             original_name=name, from_customer=True, now=now)
            else:
                evidence_add(case=case, kind=Evidence.Kind.SCREENSHOT, upload=upload, from_customer=True, now=now)
        except CaseActionError as error:
            results.append(FileResult(name, False, error.message))
        else:
            results.append(FileResult(name, True))
    return results


def portal_request(
    *, storefront: Storefront, order_number: str, email: str, reason: str, description: str = "",
    files: Uploads = (), now: datetime | None = None,
) -> RequestOutcome:
    """A refund request from the storefront's portal page.

    Opens a case (channel ``portal``) or, when the order already has an open one, joins the request to
    it; either way a link to the case goes to the order's address (never to the address typed in).
    """
    now = now or timezone.now()
    order = find_customer_order(storefront=storefront, order_number=order_number, email=email)
    if order is None:
        return RequestOutcome(case=None)
    with transaction.atomic():
        # The order row lock puts two submits of the same form (a double click, two tabs) in a line:
        # the second finds the first one's case and joins it instead of opening a second.
        Order.objects.select_for_update().filter(pk=order.pk).first()
        open_case = RefundCase.objects.filter(order=order, state__in=list(OPEN_STATES)).first()
        if open_case is None:
            case = services.case_create(
                order=order, reason=reason, description=description, channel=Channel.PORTAL,
                requested_at=now, acknowledge=False, now=now,
            )
            secret = issue_link(case=case, why=CaseLink.Why.OPENED, now=now)
            files_done = _add_files(case, files, now=now)
            mail_customer_after_commit(
                case, "received", portal_url=link_url(secret), refused_files=_refused(files_done),
                link_days=link_days(),
            )
            return RequestOutcome(case=case, opened=True, files=files_done)
        case = _join(open_case, description=description, now=now)
        secret = issue_link(case=case, why=CaseLink.Why.RESENT, now=now)
        files_done = _add_files(case, files, now=now)
        mail_customer_after_commit(
            case, "link_reissued", portal_url=link_url(secret), by_staff=False, refused_files=_refused(files_done),
            link_days=link_days(),
        )
        return RequestOutcome(case=case, opened=False, files=files_done)


def _refused(results: list[FileResult]) -> list[dict]:
    return [{"name": r.name, "why": r.why} for r in results if not r.accepted]


def _join(case: RefundCase, *, description: str, now: datetime) -> RefundCase:
    """The customer asked again while a case is open: their words go on it, and its agent is told."""
    locked = lock_case(case)
    text = (description or "").strip()
    repeated = text and locked.events.filter(
        kind=CaseEvent.Kind.COMMENT, actor_label=CUSTOMER, comment=text, created_at__gte=now - REPEAT_WINDOW
    ).exists()
    if text and not repeated:
        record_event(locked, actor=None, actor_label=CUSTOMER, kind=CaseEvent.Kind.COMMENT, now=now, comment=text,
                     visibility=CaseEvent.Visibility.CUSTOMER, data={"channel": Channel.PORTAL})
        locked.flagged = True
        locked.flag_reason = "Customer wrote again through the portal"
        locked.customer_wrote_at = locked.customer_wrote_at or now
        locked.save(update_fields=["flagged", "flag_reason", "customer_wrote_at", "updated_at"])
    return locked


def portal_resend_link(*, storefront: Storefront, order_number: str, email: str, now: datetime | None = None,
                       allowed: Callable[[RefundCase], bool] = lambda case: True) -> RefundCase | None:
    """"Send me my link again": a new link to the order's latest case, if the details match one.

    ``allowed(case)`` is the per-case rate limit: refused, nothing is sent and nothing is said.
    """
    order = find_customer_order(storefront=storefront, order_number=order_number, email=email)
    if order is None:
        return None
    case = order.cases.order_by("-requested_at", "-id").first()
    if case is None or not allowed(case):
        return None
    return case_link_resend(case=case, now=now)


def portal_upload(*, link: CaseLink, files: Uploads, now: datetime | None = None) -> list[FileResult]:
    """More files for the case behind ``link``; each accepted or refused on its own.

    Files answering an evidence request put the case back in review, flagged for its assignee.
    """
    now = now or timezone.now()
    case = link.case
    if case.state not in OPEN_STATES:
        raise CaseActionError(Code.INVALID_INPUT, why="This case is closed, so it no longer takes files.")
    results = _add_files(case, files, now=now)
    if any(r.accepted for r in results):
        customer_answered(case=case, link=link, now=now)
    return results


def customer_answered(*, case: RefundCase, link: CaseLink, now: datetime) -> RefundCase | None:
    """S0-EVIDENCE / S1-VERIFY: the customer sent what was asked; the agent reads it next."""
    try:
        return services.case_evidence_received(
            case=case.pk, actor=None, actor_label=CUSTOMER, now=now, expected_state=State.EVIDENCE_REQUESTED,
            visibility=CaseEvent.Visibility.CUSTOMER, data={"link": f"…{link.hint}"}, after=_flag_answered,
        )
    except CaseActionError:
        return None  # not waiting for evidence (or another upload moved it first): the files are on the case


def portal_message(*, link: CaseLink, text: str, files: Uploads = (), now: datetime | None = None) -> list[FileResult]:
    """The customer writes on their case page, with or without files.

    The message joins the case's history as a customer-visible event and marks the case "new message"
    for its assignee (``customer_wrote_at``) until staff answer or the assignee opens it. Words answer
    an evidence request as files do: a case waiting for the customer goes back to review.
    """
    now = now or timezone.now()
    text = (text or "").strip()
    if len(text) > MAX_MESSAGE_LENGTH:
        raise CaseActionError(Code.INVALID_INPUT, why=(
            f"Your message is too long: {MAX_MESSAGE_LENGTH} characters at most (it has {len(text)})."))
    if not text and not files:
        raise CaseActionError(Code.INVALID_INPUT, why="Write a message or choose a file to send.")
    with transaction.atomic():
        case = lock_case(link.case_id)
        if files and case.state not in OPEN_STATES:
            raise CaseActionError(Code.INVALID_INPUT, why="This case is closed, so it no longer takes files.")
        wrote = bool(text) and not case.events.filter(
            kind=CaseEvent.Kind.COMMENT, actor_label=CUSTOMER, comment=text, created_at__gte=now - REPEAT_WINDOW
        ).exists()
        if wrote:
            record_event(case, actor=None, actor_label=CUSTOMER, kind=CaseEvent.Kind.COMMENT, now=now, comment=text,
                         visibility=CaseEvent.Visibility.CUSTOMER, data={"channel": Channel.PORTAL})
            if case.customer_wrote_at is None:  # the queue is oldest unread first
                case.customer_wrote_at = now
                case.save(update_fields=["customer_wrote_at", "updated_at"])
        results = _add_files(case, files, now=now)
        if wrote or any(r.accepted for r in results):
            customer_answered(case=case, link=link, now=now)
    return results


def _flag_answered(case: RefundCase) -> None:
    # The transition clears the case's flag; the assignee still has to read what arrived.
    case.flagged = True
    case.flag_reason = "Customer sent evidence"


def portal_withdraw(*, link: CaseLink, now: datetime | None = None) -> RefundCase:
    """The customer no longer wants the refund. Once approved, only support can cancel it."""
    now = now or timezone.now()
    case = link.case
    if case.state not in UNDECIDED_STATES:
        raise CaseActionError(
            Code.INVALID_INPUT,
            why="This request can no longer be withdrawn here; reply to our e-mail if you need to change it.",
        )
    return services.case_withdraw(
        case=case.pk, actor=None, actor_label=CUSTOMER, now=now, expected_state=case.state, data={"link": f"…{link.hint}"},
    )
