"""One row of every model the admin shows, made the way the product makes them, and the roles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.utils import timezone

from cases.evidence import evidence_add
from cases.models import CaseEvent, Evidence, OutboxMessage, RefundCase
from cases.services.chargebacks import chargeback_record
from mail.models import IntakeFailure
from orders.models import Extension
from orders.services import storefront_set_four_eyes
from policies.models import PolicyDraft
from reports.models import Backtest, ExportJob
from reports.services import export_job_start
from shop.calls import record_call
from shop.connections import connect
from shop.models import KeptAsideOrder
from tests.admin.conftest import open_case
from tests.conftest import image_bytes, make_order, make_user
from tests.policies.backtest_cases import closed_case, version_in_force

ROLES = ("anonymous", "inactive", "outsider", "agent", "manager", "superuser")


@dataclass
class World:
    users: dict[str, User | None]
    rows: dict[type[Model], Model] = field(default_factory=dict)  # the row each model's pages open
    case: RefundCase | None = None
    evidence: Evidence | None = None
    message: OutboxMessage | None = None
    draft: PolicyDraft | None = None
    backtest: Backtest | None = None
    export: ExportJob | None = None


def build_world(s0, s1) -> World:
    users = {
        "anonymous": None,
        # A manager whose account was switched off: refused like someone who never logged in.
        "inactive": make_user("ines", "Support manager", is_active=False),
        "outsider": make_user("oscar"),
        "agent": make_user("alice", "Support agent"),
        "manager": make_user("maria", "Support manager"),
        "superuser": make_user("root", is_superuser=True),
    }
    agent, manager, root = users["agent"], users["manager"], users["superuser"]
    world = World(users=users)
    now = timezone.now()

    closed_case(s0, hours_after_purchase=2, close="paid", agent=agent, manager=manager)  # a payout
    case = open_case(s0, actor=agent)
    world.case = case
    world.evidence = evidence_add(case=case, kind="screenshot", actor=agent, text="", from_customer=True,
                                  upload=SimpleUploadedFile("s.png", image_bytes(), content_type="image/png"))
    world.message = OutboxMessage.objects.filter(case=case).order_by("pk").first()
    Extension.objects.create(subscription=case.order.subscription, case=case, lost_days=2, bonus_days=1,
                             note="Outage", created_by=agent, created_at=now)
    chargeback_record(order=make_order(s1, purchased_at=now - timedelta(days=2)), actor=agent,
                      amount=Decimal("10.00"), opened_at=now - timedelta(days=1))
    storefront_set_four_eyes(storefront=s1, actor=root, enabled=False, reason="One manager on duty.")
    IntakeFailure.objects.create(mailbox="maildir:///var/mail/support", uid="1", sender="ana@example.com",
                                 subject="Refund", error="No storefront receives mail at this address.", raw=b"x")
    connection = connect(storefront=s0, kind="woocommerce", url="https://shop.example.com", by="test",
                         secrets={"consumer_key": "ck_world", "consumer_secret": "cs_world", "webhook_secret": "ws"})
    record_call(storefront=s0, kind=connection.kind, direction="in", method="POST",
                endpoint="/hooks/woocommerce/iptv-smarters-pro/", status=200, result="order 5101: new",
                order_id=case.order_id, case_id=case.pk)
    KeptAsideOrder.objects.create(storefront=s0, shop_order_id=5102, number="5102", via="webhook",
                                  reason="line_items[0]: no plan of this storefront matches product 777",
                                  order_object={"id": 5102, "number": "5102"})
    world.draft = PolicyDraft.from_version(version_in_force(s0), version="24h", full_refund_window_hours=24)
    world.draft.save()
    world.backtest = Backtest.objects.create(draft=world.draft, parameters=world.draft.parameters(),
                                             period_start=now - timedelta(days=30), period_end=now)
    job = export_job_start(user=manager, fmt="csv", query="", filters={}, row_count=1)
    job.file.save("cases.csv", ContentFile(b"number\n"), save=False)
    job.status, job.processed, job.total = ExportJob.Status.DONE, 1, 1
    job.save()
    world.export = job
    seen = {"user_agent": "test", "ip_address": "127.0.0.1", "username": "alice", "http_accept": "*/*",
            "path_info": "/admin/login/", "attempt_time": now}
    AccessAttempt.objects.create(**seen, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**seen)
    AccessFailureLog.objects.create(**seen)

    chosen = {RefundCase: case, CaseEvent: CaseEvent.objects.filter(case=case).first(), User: agent,
              PolicyDraft: world.draft}
    for model in admin.site._registry:
        row = chosen.get(model) or model._default_manager.order_by("pk").first()
        assert row is not None, f"build_world makes no {model._meta.label}: make one so its pages are opened"
        world.rows[model] = row
    return world
