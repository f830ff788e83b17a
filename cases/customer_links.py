"""The secret links to a case's customer page: issue, look up, revoke, re-issue.

A link is ``/portal/c/<secret>/`` with 192 random bits. Only the SHA-256 of the secret is stored: the
secret is random, so a plain hash cannot be reversed by guessing, and a copy of the table opens no
case. A lookup goes by the hash (an index) and compares it again in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone

from cases.events import mail_customer_after_commit, record_event
from cases.models import CaseEvent, CaseLink, RefundCase
from cases.services.base import lock_case
from core.errors import CaseActionError, Code
from core.typing import Actor

SECRET_BYTES = 24  # 192 bits; the contract asks for at least 128
SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
HINT_LENGTH = 4


def link_days() -> int:
    return int(getattr(settings, "PORTAL_LINK_DAYS", 30))


def link_hint(secret: str) -> str:
    return f"…{secret[-HINT_LENGTH:]}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def link_url(secret: str) -> str:
    """The absolute address mailed to the customer (``PORTAL_BASE_URL`` names the public site)."""
    base = str(getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000")).rstrip("/")
    return base + reverse("portal:case", args=[secret])


def issue_link(*, case: RefundCase, why: str, actor: Actor | None = None, now: datetime,
               record: bool = True) -> str:
    """A new link to ``case``; returns its secret, which exists nowhere else once mailed.

    Call inside the transaction that locked the case, so that the link and its event commit together.
    ``record=False``: no event of its own (an evidence request's link is part of that request).
    """
    secret = secrets.token_urlsafe(SECRET_BYTES)
    link = CaseLink.objects.create(
        case=case, token_hash=hash_secret(secret), hint=secret[-HINT_LENGTH:], why=why, created_at=now,
        created_by=actor, expires_at=now + timedelta(days=link_days()),
    )
    if not record:
        return secret
    record_event(
        case, actor=actor, kind=CaseEvent.Kind.LINK, now=now,
        comment=f"Link …{link.hint} sent to the customer ({link.get_why_display().lower()})",
        data={"link": f"…{link.hint}", "expires_at": link.expires_at.isoformat()},
    )
    return secret


@dataclass(frozen=True)
class Lookup:
    status: str  # "active", "expired", "revoked" or "unknown"
    link: CaseLink | None = None

    @property
    def usable(self) -> bool:
        return self.status == "active"


def find_link(secret: str, *, now: datetime | None = None) -> Lookup:
    """The link for ``secret`` and whether it still opens its case."""
    now = now or timezone.now()
    if not isinstance(secret, str) or not SECRET_SHAPE.match(secret):
        return Lookup("unknown")
    wanted = hash_secret(secret)
    link = CaseLink.objects.select_related("case__order__storefront", "case__order__customer").filter(
        token_hash=wanted
    ).first()
    # The index found the row by its hash; compare again without leaking where they differ.
    if link is None or not hmac.compare_digest(link.token_hash, wanted):
        return Lookup("unknown")
    return Lookup(link.state_at(now), link)


def mark_used(link: CaseLink, *, now: datetime) -> None:
    """Staff see which link the customer opens the case with, and when."""
    CaseLink.objects.filter(pk=link.pk).update(last_used_at=now, uses=F("uses") + 1)


def active_links(case: RefundCase, *, now: datetime) -> QuerySet[CaseLink]:
    return case.links.filter(revoked_at__isnull=True, expires_at__gt=now)


# --- services -------------------------------------------------------------------------------


def _check_staff(actor: Actor) -> None:
    if actor is None or not actor.has_perm("cases.work_refundcase"):
        raise CaseActionError(Code.NO_PERMISSION, permission="work refund cases")


def _revoke(locked: RefundCase, *, actor: Actor, now: datetime, link_id: int | None) -> list[str]:
    links = active_links(locked, now=now)
    if link_id is not None:
        links = links.filter(pk=link_id)
    hints = [f"…{hint}" for hint in links.values_list("hint", flat=True)]
    links.update(revoked_at=now, revoked_by=actor)
    return hints


def case_link_revoke(*, case: RefundCase, actor: Actor, link_id: int | None = None, now: datetime | None = None) -> int:
    """Staff revoke one link of the case, or all its live links; the customer can ask for a new one."""
    now = now or timezone.now()
    _check_staff(actor)
    with transaction.atomic():
        # The case lock orders this against a customer being sent a new link at the same moment.
        locked = lock_case(case)
        hints = _revoke(locked, actor=actor, now=now, link_id=link_id)
        if not hints:
            raise CaseActionError(Code.INVALID_INPUT, why="No live link to revoke: it was already revoked or expired.")
        record_event(locked, actor=actor, kind=CaseEvent.Kind.LINK, now=now,
                     comment=f"Revoked {', '.join(hints)}", data={"revoked": hints})
    return len(hints)


def case_link_reissue(*, case: RefundCase, actor: Actor, now: datetime | None = None) -> RefundCase:
    """Staff replace the case's links with a new one, mailed to the order's address (a leaked link)."""
    now = now or timezone.now()
    _check_staff(actor)
    with transaction.atomic():
        locked = lock_case(case)  # one re-issue at a time: two clicks must not leave two new links
        hints = _revoke(locked, actor=actor, now=now, link_id=None)
        if hints:
            record_event(locked, actor=actor, kind=CaseEvent.Kind.LINK, now=now,
                         comment=f"Revoked {', '.join(hints)} to re-issue the link", data={"revoked": hints})
        secret = issue_link(case=locked, why=CaseLink.Why.REISSUED, actor=actor, now=now)
        mail_customer_after_commit(locked, "link_reissued", portal_url=link_url(secret), by_staff=True,
                                   link_days=link_days())
    return locked


def case_link_resend(*, case: RefundCase, now: datetime | None = None) -> RefundCase:
    """The customer asked for their link: a new one by mail; earlier links keep working until they expire."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = lock_case(case)
        secret = issue_link(case=locked, why=CaseLink.Why.RESENT, now=now)
        mail_customer_after_commit(locked, "link_reissued", portal_url=link_url(secret), by_staff=False,
                                   link_days=link_days())
    return locked
