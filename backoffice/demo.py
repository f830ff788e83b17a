"""Demo data for ``make run``: staff logins, plans, customers, orders, and cases in every state.

Cases are built only through ``cases.services`` (and the deadline sweep) with explicit times
relative to now, so their events, decision snapshots and deadlines are the ones the product
itself would have written, and the 48 h windows are live when the demo is opened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import Group, User
from django.core import mail
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from cases import services
from cases.models import RefundCase
from cases.services.chargebacks import chargeback_record
from cases.states import DenyReason, State
from cases.sweeps import sweep_deadlines
from orders.models import Customer, Order, Plan, Storefront, Subscription

ADMIN_URL = "http://127.0.0.1:8000/admin/"
ORDER_PREFIX = "DEMO-"
LOCMEM_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
AGENT_GROUP = "Support agent"
MANAGER_GROUP = "Support manager"


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    role: str
    group: str | None = None
    superuser: bool = False


LOGINS = (
    Login("alice", "alice-demo", "agent", AGENT_GROUP),
    Login("bruno", "bruno-demo", "agent", AGENT_GROUP),
    Login("carla", "carla-demo", "manager (approves)", MANAGER_GROUP),
    Login("dmitri", "dmitri-demo", "manager (marks paid: H-FOUR-EYES)", MANAGER_GROUP),
    Login("admin", "admin-demo", "superuser", superuser=True),
)


@dataclass
class SeedReport:
    created: bool
    logins: list[tuple[Login, bool]] = field(default_factory=list)  # (login, password still works)
    orders: int = 0
    cases: int = 0
    emails: int = 0
    chargeback: bool = False


def demo_present() -> bool:
    return Order.objects.filter(number__startswith=ORDER_PREFIX).exists()


def seed_demo(*, now: datetime | None = None) -> SeedReport:
    """Create the demo once; later calls only make sure the staff logins exist."""
    now = now or timezone.now()
    outbox = getattr(mail, "outbox", None)
    kept = len(outbox) if outbox is not None else 0
    # Customer e-mails go to memory: seeding must neither flood the console nor mail anyone.
    with override_settings(EMAIL_BACKEND=LOCMEM_BACKEND):
        with transaction.atomic():
            staff, fresh = _ensure_staff()
            if demo_present():
                report = SeedReport(created=False)
            else:
                report = _Builder(now=now, staff=staff).build()
        sent = getattr(mail, "outbox", [])
        report.emails = len(sent) - kept
        del sent[kept:]
    report.logins = [
        (login, login.username in fresh or staff[login.username].check_password(login.password)) for login in LOGINS
    ]
    report.orders = Order.objects.filter(number__startswith=ORDER_PREFIX).count()
    report.cases = RefundCase.objects.filter(order__number__startswith=ORDER_PREFIX).count()
    return report


def _ensure_staff() -> tuple[dict[str, User], set[str]]:
    """The demo logins, created when missing; existing accounts are left as they are."""
    staff, fresh = {}, set()
    for login in LOGINS:
        user = User.objects.filter(username=login.username).first()
        if user is None:
            fresh.add(login.username)
            user = User.objects.create_user(
                username=login.username,
                password=login.password,
                email=f"{login.username}@example.com",
                first_name=login.username.capitalize(),
                is_staff=True,
                is_superuser=login.superuser,
            )
            if login.group:
                user.groups.add(Group.objects.get(name=login.group))
        staff[login.username] = User.objects.get(pk=user.pk)  # reloaded: no stale permission cache
    return staff, fresh


# --- the builder ----------------------------------------------------------------------------

# (months, devices) -> price, per storefront
PRICES = {
    "iptv-smarters-pro": {(1, 1): "14.99", (3, 1): "34.99", (6, 1): "54.99", (12, 1): "79.99", (12, 3): "129.99"},
    "smarters-pro": {(1, 1): "12.99", (3, 1): "29.99", (6, 1): "49.99", (12, 1): "69.99", (12, 2): "99.99"},
}
NAMES = (
    "Amelia Hart", "Bilal Chaudhry", "Chloe Martin", "Diego Alvarez", "Elif Yilmaz", "Farid Haddad",
    "Grace Okafor", "Hugo Lefebvre", "Ines Costa", "Jonas Berg", "Kenji Sato", "Lena Novak",
    "Marco Rossi", "Nadia Benali", "Oliver Smith", "Priya Nair", "Quentin Dubois", "Rosa Jimenez",
)


class _Builder:
    def __init__(self, *, now: datetime, staff: dict[str, User]) -> None:
        self.now = now
        self.alice, self.bruno = staff["alice"], staff["bruno"]
        self.carla, self.dmitri = staff["carla"], staff["dmitri"]
        self.s0 = Storefront.objects.get(slug="iptv-smarters-pro")
        self.s1 = Storefront.objects.get(slug="smarters-pro")
        self.plans: dict[tuple[int, int, int], Plan] = {}
        self.customers: dict[int, list[Customer]] = {}
        self.serial = {self.s0.pk: 1000, self.s1.pk: 5000}
        self.chargeback = False

    def ago(self, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
        return self.now - timedelta(days=days, hours=hours, minutes=minutes)

    def build(self) -> SeedReport:
        for storefront in (self.s0, self.s1):
            self._catalogue(storefront)
        self._flagged_by_the_sweep()
        self._iptv_smarters_pro()
        self._smarters_pro()
        self._orders_without_cases()
        return SeedReport(created=True, chargeback=self.chargeback)

    # --- catalogue -------------------------------------------------------------------------

    def _catalogue(self, storefront: Storefront) -> None:
        for (months, devices), price in PRICES[storefront.slug].items():
            name = f"{months} month{'s' if months > 1 else ''}"
            if devices > 1:
                name = f"{name}, {devices} devices"
            self.plans[(storefront.pk, months, devices)] = Plan.objects.create(
                storefront=storefront, name=name, months=months, devices=devices, price=Decimal(price),
                currency=storefront.currency, external_product_id=f"{storefront.slug}-{months}m-{devices}d",
            )
        shift = 0 if storefront == self.s0 else len(NAMES) // 2
        people = NAMES[shift:] + NAMES[:shift]
        self.customers[storefront.pk] = [
            Customer.objects.create(
                storefront=storefront,
                email=f"{name.lower().replace(' ', '.')}@example.com",
                name=name,
                phone=f"+44 7700 900{index:03d}",
            )
            for index, name in enumerate(people)
        ]

    def order(
        self,
        storefront: Storefront,
        *,
        purchased: datetime,
        months: int = 1,
        devices: int = 1,
        delivered: bool = True,
        method: str = "card",
        customer: Customer | None = None,
    ) -> Order:
        self.serial[storefront.pk] += 1
        number = self.serial[storefront.pk]
        plan = self.plans[(storefront.pk, months, devices)]
        pool = self.customers[storefront.pk]
        order = Order.objects.create(
            storefront=storefront,
            number=f"{ORDER_PREFIX}{number}",
            customer=customer or pool[number % len(pool)],
            plan=plan,
            amount=plan.price,
            currency=plan.currency,
            payment_method=method,
            processor_reference=f"ch_demo_{number}",
            purchased_at=purchased,
        )
        Subscription.objects.create(
            order=order,
            delivered_at=purchased + timedelta(minutes=7) if delivered else None,
            access_reference=f"user{number}" if delivered else "",
        )
        return order

    def case(
        self,
        order: Order,
        reason: str,
        *,
        requested: datetime,
        description: str,
        channel: str = "email",
        outage_hours: int = 0,
        by: User | None = None,
        assignee: User | None = None,
    ) -> RefundCase:
        # Staff type in WhatsApp and admin requests a few minutes after the customer asked.
        entered = requested + timedelta(minutes=4) if by is not None else requested
        return services.case_create(
            order=order, reason=reason, requested_at=requested, description=description, channel=channel,
            outage_hours=outage_hours, actor=by, assignee=assignee, now=entered,
        )

    # --- cases the deadline sweep has already handled --------------------------------------

    def _flagged_by_the_sweep(self) -> None:
        """Two cases sent back to the queue, flagged, by sweeps run at past times.

        The sweeps run only when nothing else in the database would be due at those times, so an
        existing database is never touched.
        """
        s0_order = self.order(self.s0, purchased=self.ago(days=8), months=3, method="paypal")
        fix_expired = self.case(
            s0_order, "technical_issue", requested=self.ago(days=7, hours=2),
            description="The app says 'authorization failed' on every channel since yesterday.",
            assignee=self.bruno,
        )
        services.case_start_fix(case=fix_expired, actor=self.bruno, now=self.ago(days=7),
                                note="Resetting the line on the panel; please retry in an hour.")

        s1_order = self.order(self.s1, purchased=self.ago(days=30), months=3)
        evidence_expired = self.case(
            s1_order, "other", requested=self.ago(days=15), channel="portal",
            description="The picture quality is much lower than advertised.", assignee=self.alice,
        )
        services.case_request_evidence(
            case=evidence_expired, actor=self.alice, now=self.ago(days=14),
            message="Could you send a screenshot of the stream information panel while a channel plays?",
        )

        sweep_times = (self.ago(days=7, hours=-1), self.ago(days=5, hours=-1), self.ago(days=4, hours=-2))
        ours = (fix_expired.pk, evidence_expired.pk)
        others_due = RefundCase.objects.filter(
            state__in=[State.AWAITING_FIX, State.EVIDENCE_REQUESTED], next_deadline__lt=sweep_times[-1]
        ).exclude(pk__in=ours)
        if others_due.exists():
            return
        for moment in sweep_times:
            sweep_deadlines(now=moment)

    # --- storefront iptv-smarters-pro (S0) ---------------------------------------------------

    def _iptv_smarters_pro(self) -> None:
        s0, alice, bruno, carla, dmitri = self.s0, self.alice, self.bruno, self.carla, self.dmitri

        # requested, full refund: within 48 h of purchase (S0-WINDOW), never delivered
        order = self.order(s0, purchased=self.ago(hours=30), delivered=False)
        self.case(order, "not_delivered", requested=self.ago(hours=6), assignee=alice,
                  description="I paid yesterday and never received my login details.")

        # requested, partial refund: more than 48 h after purchase (S0-PARTIAL), multi-device plan
        order = self.order(s0, purchased=self.ago(days=25), months=12, devices=3)
        self.case(order, "other", requested=self.ago(days=1),
                  description="Half of the sports channels in the list are missing.")

        # requested, refund or extension: a 72 h server outage (S0-OUTAGE)
        order = self.order(s0, purchased=self.ago(days=12), months=3, method="crypto")
        case = self.case(order, "server_outage", requested=self.ago(hours=20), outage_hours=72,
                         channel="whatsapp", by=bruno,
                         description="Nothing worked from Monday to Thursday, all channels offline.")
        case = services.case_assign(case=case, actor=carla, assignee=bruno, now=self.ago(hours=19))

        # requested, the policy denies by exclusion (S0-NO-SETUP): left for an agent to deny
        order = self.order(s0, purchased=self.ago(hours=5))
        self.case(order, "setup_difficulty", requested=self.ago(hours=3), channel="portal",
                  description="I cannot install the app on my TV.")

        # requested, needs a fix attempt first (S0-FIX-FIRST)
        order = self.order(s0, purchased=self.ago(days=1), months=6)
        self.case(order, "technical_issue", requested=self.ago(hours=2),
                  description="Every channel shows a black screen after ten seconds.")

        # awaiting fix, the 48 h window still open (S0-FIX-48H)
        order = self.order(s0, purchased=self.ago(days=2), months=3)
        case = self.case(order, "technical_issue", requested=self.ago(hours=14), assignee=bruno,
                         description="The EPG is empty and catch-up does not load.")
        case = services.case_start_fix(case=case, actor=bruno, now=self.ago(hours=10),
                                note="Server-side EPG resync started; we will confirm within 48 hours.")

        # awaiting fix, the window already ran out: the sweep has work to do
        order = self.order(s0, purchased=self.ago(days=6), months=1)
        case = self.case(order, "technical_issue", requested=self.ago(days=4), assignee=alice,
                         description="Streams stop every few seconds with error 403.")
        case = services.case_start_fix(case=case, actor=alice, now=self.ago(days=3),
                                note="Moved the account to another load balancer.")

        # evidence requested, due in six days (S0-EVIDENCE)
        order = self.order(s0, purchased=self.ago(days=3))
        case = self.case(order, "other", requested=self.ago(days=2), assignee=alice,
                         description="The service is not what was advertised.")
        case = services.case_request_evidence(case=case, actor=alice, now=self.ago(days=1),
                                       message="Please send screenshots of what you see and what you expected.")

        # evidence requested and overdue: the sweep will send the reminder
        order = self.order(s0, purchased=self.ago(days=15), months=3)
        case = self.case(order, "other", requested=self.ago(days=10), assignee=bruno,
                         description="Many channels show the wrong programme.")
        case = services.case_request_evidence(case=case, actor=bruno, now=self.ago(days=9),
                                       message="Which channels? A screenshot with the channel name would help.")

        # approved partial refund, waiting for a manager to pay it
        order = self.order(s0, purchased=self.ago(days=40), months=6)
        case = self.case(order, "other", requested=self.ago(days=3), channel="portal",
                         description="I am moving abroad where the service is blocked.")
        case = services.case_approve(case=case, actor=alice, now=self.ago(days=2),
                              note="Prorated for the unused months (S0-PARTIAL).")

        # approved duplicate charge (H-DUPLICATE), whatever the dates
        first = self.order(s0, purchased=self.ago(days=9, minutes=3), months=12)
        order = self.order(s0, purchased=self.ago(days=9), months=12, customer=first.customer)
        case = self.case(order, "duplicate_payment", requested=self.ago(days=8),
                         description=f"I was charged twice: orders #{first.number} and #{order.number}.")
        case = services.case_approve(case=case, actor=bruno, now=self.ago(days=7, hours=20))

        # paid: approved by an agent, paid by a manager; then the customer asks again (H-CAP)
        order = self.order(s0, purchased=self.ago(days=20), delivered=False, method="paypal")
        case = self.case(order, "not_delivered", requested=self.ago(days=19),
                         description="No activation code after a day.")
        case = services.case_approve(case=case, actor=alice, now=self.ago(days=19, hours=-2))
        case = services.case_pay(case=case, actor=carla, reference="PAYID-DEMO-7731", now=self.ago(days=18))
        case = self.case(order, "not_delivered", requested=self.ago(days=2),
                         description="I still have not received my refund.")
        services.case_comment(case=case, actor=alice, customer_visible=True, now=self.ago(days=1, hours=23),
                              comment="The refund was sent 16 days ago; PayPal takes 20-90 business days.")
        services.case_deny(case=case, actor=alice, reason=DenyReason.NOTHING_LEFT, now=self.ago(days=1, hours=22))

        # paid after a failed fix (S0-FIX-48H, then S0-WINDOW): two managers, four eyes
        order = self.order(s0, purchased=self.ago(days=16), months=3)
        case = self.case(order, "technical_issue", requested=self.ago(days=15), assignee=bruno,
                         description="Buffering on every channel, the app is unusable.")
        case = services.case_start_fix(case=case, actor=bruno, now=self.ago(days=15, hours=-1))
        services.case_comment(case=case, actor=bruno, now=self.ago(days=14, hours=2),
                              comment="Line reset did not help; the provider's panel shows no fault.")
        case = services.case_fix_failed(case=case, actor=bruno, now=self.ago(days=14),
                                 note="The customer confirms the problem persists.")
        case = services.case_approve(case=case, actor=carla, now=self.ago(days=14, hours=-1))
        case = services.case_pay(case=case, actor=dmitri, reference="re_demo_3KQ9", now=self.ago(days=13))

        # paid prorated refund, approved and paid by two different managers
        order = self.order(s0, purchased=self.ago(days=70), months=12)
        case = self.case(order, "other", requested=self.ago(days=6),
                         description="The service keeps dropping in the evenings.")
        case = services.case_approve(case=case, actor=carla, now=self.ago(days=6, hours=-3))
        case = services.case_pay(case=case, actor=dmitri, reference="re_demo_8HT2", now=self.ago(days=5))

        # resolved: the fix worked
        order = self.order(s0, purchased=self.ago(days=11), months=6)
        case = self.case(order, "technical_issue", requested=self.ago(days=10), assignee=alice,
                         description="The app logs me out every few minutes.")
        case = services.case_start_fix(case=case, actor=alice, now=self.ago(days=10, minutes=-30))
        case = services.case_fix_succeeded(case=case, actor=alice, now=self.ago(days=9),
                                    note="A second device was sharing the line; limited to one session.")

        # resolved: extension instead of money after a 96 h outage (S0-OUTAGE)
        order = self.order(s0, purchased=self.ago(days=90), months=12)
        case = self.case(order, "server_outage", requested=self.ago(days=6), outage_hours=96,
                         description="Four days without any channel.")
        case = services.case_extend(case=case, actor=bruno, bonus_days=7, now=self.ago(days=5),
                             note="The customer prefers to keep the subscription.")

        # denied by exclusion (S0-NO-CHANGE)
        order = self.order(s0, purchased=self.ago(days=4))
        case = self.case(order, "changed_mind", requested=self.ago(days=3), channel="portal",
                         description="I found a cheaper offer.")
        case = services.case_deny(case=case, actor=alice, reason=DenyReason.POLICY_EXCLUSION, now=self.ago(days=2))

        # denied: a 20 h outage is an occasional disruption (S0-NO-INTERMITTENT)
        order = self.order(s0, purchased=self.ago(days=50), months=3)
        case = self.case(order, "server_outage", requested=self.ago(days=8), outage_hours=20,
                         description="No service all of Saturday.")
        case = services.case_deny(case=case, actor=bruno, reason=DenyReason.POLICY_EXCLUSION, now=self.ago(days=7))

        # withdrawn while the fix was under way
        order = self.order(s0, purchased=self.ago(days=5), months=1)
        case = self.case(order, "technical_issue", requested=self.ago(days=4), assignee=alice,
                         description="Sound is out of sync on all channels.")
        case = services.case_start_fix(case=case, actor=alice, now=self.ago(days=3, hours=20))
        case = services.case_withdraw(case=case, actor=alice, now=self.ago(days=3),
                               note="The customer changed a setting on the TV and no longer wants a refund.")

    # --- storefront smarters-pro (S1) --------------------------------------------------------

    def _smarters_pro(self) -> None:
        s1, alice, bruno, carla, dmitri = self.s1, self.alice, self.bruno, self.carla, self.dmitri

        # requested, full refund: access never sent (S1-USED-ON-DELIVERY)
        order = self.order(s1, purchased=self.ago(days=3), delivered=False)
        self.case(order, "not_delivered", requested=self.ago(days=1), channel="whatsapp", by=alice,
                  assignee=alice, description="Paid three days ago, no activation code yet.")

        # requested, at a manager's discretion (S1-DISCRETION), escalated by an agent
        order = self.order(s1, purchased=self.ago(days=20), months=6)
        case = self.case(order, "technical_issue", requested=self.ago(days=1), channel="portal",
                         description="Half of the channels never load.")
        case = services.case_assign(case=case, actor=alice, assignee=carla, now=self.ago(hours=20))
        services.case_comment(case=case, actor=alice, now=self.ago(hours=20),
                              comment="Delivered 20 days ago: needs a manager's decision (S1-DISCRETION).")

        # requested, duplicate charge (H-DUPLICATE)
        first = self.order(s1, purchased=self.ago(days=1, minutes=2), months=3, devices=1)
        order = self.order(s1, purchased=self.ago(days=1), months=3, customer=first.customer)
        self.case(order, "duplicate_payment", requested=self.ago(hours=5),
                  description=f"Charged twice within two minutes (the other order is #{first.number}).")

        # evidence requested before deciding (S1-VERIFY)
        order = self.order(s1, purchased=self.ago(days=9), months=12, devices=2)
        case = self.case(order, "other", requested=self.ago(days=3), assignee=alice,
                         description="Only one of my two devices can connect.")
        case = services.case_request_evidence(case=case, actor=alice, now=self.ago(days=2),
                                       message="Please send the error message shown on the second device.")

        # approved at a manager's discretion, partial, waiting for the second manager to pay
        order = self.order(s1, purchased=self.ago(days=35), months=3)
        case = self.case(order, "technical_issue", requested=self.ago(days=4), assignee=carla,
                         description="Frequent outages during football matches.")
        half = (order.amount / 2).quantize(Decimal("0.01"))
        case = services.case_approve(case=case, actor=carla, amount=half, now=self.ago(days=3),
                              note="Goodwill: half the price, the outages are confirmed in our logs.")

        # paid on a statutory override (S1-STATUTORY) of an excluded reason (S1-NOT-ELIGIBLE)
        order = self.order(s1, purchased=self.ago(days=13), months=12)
        case = self.case(order, "changed_mind", requested=self.ago(days=12),
                         description="I want to cancel within the 14-day withdrawal period.")
        case = services.case_approve_statutory(
            case=case, actor=carla, amount=order.amount, now=self.ago(days=11),
            basis="Directive 2011/83/EU art. 9: 14-day right of withdrawal; the customer did not waive it "
                  "before delivery.",
        )
        case = services.case_pay(case=case, actor=dmitri, reference="re_demo_STAT1", now=self.ago(days=10))

        # paid: never delivered, full refund
        order = self.order(s1, purchased=self.ago(days=8), delivered=False, method="bank_transfer")
        case = self.case(order, "not_delivered", requested=self.ago(days=7), channel="portal",
                         description="Nothing received.")
        case = services.case_approve(case=case, actor=bruno, now=self.ago(days=7, hours=-2))
        case = services.case_pay(case=case, actor=carla, reference="SEPA-DEMO-0042", now=self.ago(days=6))

        # denied by exclusion (S1-NOT-ELIGIBLE)
        order = self.order(s1, purchased=self.ago(days=6), months=1)
        case = self.case(order, "changed_mind", requested=self.ago(days=2), channel="whatsapp", by=bruno,
                         description="Not watching as much as I thought.")
        case = services.case_deny(case=case, actor=bruno, reason=DenyReason.POLICY_EXCLUSION, now=self.ago(days=1))

        # denied at a manager's discretion, with the written reason it requires
        order = self.order(s1, purchased=self.ago(days=100), months=6)
        case = self.case(order, "other", requested=self.ago(days=9),
                         description="I do not use it any more.")
        case = services.case_deny(case=case, actor=dmitri, reason=DenyReason.SERVICE_USED, now=self.ago(days=8),
                           note="Used daily for three months according to the connection logs.")

        # withdrawn: the access details arrived after all
        order = self.order(s1, purchased=self.ago(days=2), months=1)
        case = self.case(order, "not_delivered", requested=self.ago(days=2, hours=-1), channel="portal",
                         description="Where is my code?")
        case = services.case_withdraw(case=case, actor=alice, now=self.ago(days=1, hours=12),
                               note="The code was in the customer's spam folder.")

    # --- orders without cases, and a chargeback ----------------------------------------------

    def _orders_without_cases(self) -> None:
        for storefront in (self.s0, self.s1):
            self.order(storefront, purchased=self.ago(minutes=20), delivered=False)
            self.order(storefront, purchased=self.ago(days=1), months=3, method="paypal")
            self.order(storefront, purchased=self.ago(days=14), months=6)
            self.order(storefront, purchased=self.ago(days=45), months=12, method="crypto")
        order = self.order(self.s1, purchased=self.ago(days=10), months=12)
        # S1-CHARGEBACK without prior contact: the order's subscription is suspended, its customer restricted.
        chargeback_record(order=order, actor=self.carla, amount=order.amount, opened_at=self.ago(days=2),
                          processor_reference="dp_demo_CB1", now=self.ago(days=1))
        self.chargeback = True


def login_block(logins: Iterable[tuple[Login, bool]], *, url: str = ADMIN_URL) -> str:
    rows = list(logins)
    width = max(len("username"), *(len(login.username) for login, _ in rows)) + 2
    pw_width = max(len("password"), *(len(login.password) for login, _ in rows)) + 2
    lines = ["", "Refund back office demo", f"  Open {url} and log in as:", ""]
    lines.append(f"  {'username':<{width}}{'password':<{pw_width}}role")
    for login, works in rows:
        note = "" if works else "  (existing account: its password was changed, not reset)"
        lines.append(f"  {login.username:<{width}}{login.password:<{pw_width}}{login.role}{note}")
    lines.append("")
    lines.append("  H-FOUR-EYES: a manager who approved a refund cannot mark it paid; use the other manager.")
    return "\n".join(lines)
