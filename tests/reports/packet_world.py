"""A disputed order with everything an evidence packet reads, made the way the product makes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cases import services
from cases.customer_links import find_link, issue_link
from cases.evidence import evidence_add
from cases.models import CaseLink, Evidence, RefundCase
from cases.services.chargebacks import dispute_record
from orders.models import Chargeback, Customer, Order
from portal.services import portal_message
from tests.conftest import image_bytes, make_order

STAFF_NOTE = "Internal only: this customer looks like a reseller, do not tell them"
STAFF_REPLY = "We checked your account: your streams worked on three devices until 22:00 yesterday."
CUSTOMER_MESSAGE = "Here is what my TV shows — I want my 59.99 € back ✓"
DESCRIPTION = "I changed my mind about the subscription, please refund me."
PROOF_TEXT = "Connection log: 3 sessions from 2 devices, 14 h of streaming."


@dataclass
class World:
    order: Order
    case: RefundCase
    chargeback: Chargeback
    images: list[Evidence]


def upload(name: str, *, fmt: str = "PNG", size=(640, 400), noise: bool = False) -> SimpleUploadedFile:
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg"}[fmt]
    return SimpleUploadedFile(name, image_bytes(fmt, size=size, noise=noise), content_type=content_type)


def disputed_order(storefront, *, agent, screenshots: int = 2, noise: bool = False, dispute: bool = True,
                   more=()) -> World:
    """A customer on ``storefront`` asks for a refund, sends screenshots and a message, is answered and
    denied, then disputes the payment with their bank. ``more``: (kind, upload, from_customer) to add."""
    now = timezone.now()
    order = make_order(storefront, amount="59.99", currency="EUR", purchased_at=now - timedelta(days=6))
    Customer.objects.filter(pk=order.customer_id).update(name="Zoë Ødegård")
    case = services.case_create(order=order, reason="changed_mind", requested_at=now - timedelta(days=5),
                                channel="portal", description=DESCRIPTION, acknowledge=False,
                                now=now - timedelta(days=5))
    secret = issue_link(case=case, why=CaseLink.Why.OPENED, now=now - timedelta(days=5))
    link = find_link(secret).link
    portal_message(link=link, text=CUSTOMER_MESSAGE, files=[upload("tv screen.png")], now=now - timedelta(days=4))
    for n in range(1, screenshots):
        evidence_add(case=case, kind="screenshot", actor=agent, from_customer=True, now=now - timedelta(days=4),
                     upload=upload(f"shot-{n}.jpg", fmt="JPEG", size=(900 + n, 1600), noise=noise))
    for kind, file, from_customer in more:
        evidence_add(case=case, kind=kind, actor=agent, from_customer=from_customer, upload=file,
                     now=now - timedelta(days=4))
    services.case_comment(case=case, actor=agent, comment=STAFF_NOTE, now=now - timedelta(days=3, hours=2))
    services.case_comment(case=case, actor=agent, comment=STAFF_REPLY, customer_visible=True,
                          now=now - timedelta(days=3, hours=1))
    evidence_add(case=case, kind="proof_of_service", actor=agent, text=PROOF_TEXT, now=now - timedelta(days=3),
                 upload=upload("panel.png", size=(1200, 700)))
    services.case_deny(case=case, actor=agent, reason="policy_exclusion", now=now - timedelta(days=2))
    chargeback = None
    if dispute:
        chargeback = dispute_record(order=order, dispute_id="dp_1QzX9", amount=Decimal("59.99"), currency="eur",
                                    reason="product_not_received", due_by=now + timedelta(days=9),
                                    opened_at=now - timedelta(days=1), now=now)
    images = list(case.evidence.exclude(width=None).order_by("created_at", "id"))
    return World(order=order, case=RefundCase.objects.get(pk=case.pk), chargeback=chargeback, images=images)
