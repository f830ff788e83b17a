"""(b) The admin case list at 10k and 100k cases, on the throwaway SQLite database ``run.py`` made.

Rows are bulk-inserted, not built through the services: the list is what is measured, not the
history behind each row. Each case gets its customer, order, subscription and 'created' event.
The first size is made with ``bulk_create``; the larger one copies those rows inside the database
with new keys, numbers and e-mails (the ORM spends ~0.5 ms a row, the copy a few microseconds).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from bench.timing import time_get
from cases.models import CaseEvent, RefundCase
from cases.states import State
from orders.models import Customer, Order, Plan, Storefront, Subscription
from rules.engine import REASONS, Facts, decide

URL = "/admin/cases/refundcase/"
SIZES = (10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
CHUNK = 10_000
REPEATS = 3
CASES_PER_CUSTOMER = 4

# 16 slots: a queue shaped like a working back office (most cases open or recently closed).
STATE_CYCLE = (
    [State.REQUESTED] * 4 + [State.AWAITING_FIX] * 2 + [State.EVIDENCE_REQUESTED] * 2 + [State.APPROVED] * 2
    + [State.DENIED] * 2 + [State.PAID] * 2 + [State.RESOLVED, State.WITHDRAWN]
)
RESOLUTION = {State.PAID: "refunded", State.DENIED: "denied", State.RESOLVED: "fixed", State.WITHDRAWN: "withdrawn"}
PRICES = ("14.99", "34.99", "54.99", "79.99", "129.99")
PLAN_SHAPES = ((1, 1), (3, 1), (6, 1), (12, 1), (12, 3))


class Loader:
    def __init__(self, *, now: datetime) -> None:
        self.now = now
        self.total = 0
        self.base = 0
        self.storefronts = list(Storefront.objects.order_by("slug"))
        self.plans = {
            sf.pk: [
                Plan.objects.create(storefront=sf, name=f"{m} months x{d}", months=m, devices=d,
                                    price=Decimal(price), currency="USD")
                for (m, d), price in zip(PLAN_SHAPES, PRICES, strict=True)
            ]
            for sf in self.storefronts
        }
        self.agents = [self._user(f"bench-agent-{n}") for n in range(3)]
        self.admin = self._user("bench-admin", superuser=True)
        self.snapshots = self._snapshots()

    @staticmethod
    def _user(username: str, *, superuser: bool = False) -> User:
        user = User(username=username, is_staff=True, is_superuser=superuser)
        user.set_unusable_password()  # force_login: no password hashing in the bench
        user.save()
        return user

    def _snapshots(self) -> list[dict]:
        from policies.models import PolicyVersion

        policy = PolicyVersion.objects.order_by("storefront__slug").first().to_policy()
        moment = self.now - timedelta(days=3)
        snapshots = []
        for reason in REASONS:
            facts = Facts(price=Decimal("34.99"), currency="USD", payment_method="card", plan_months=3,
                          purchased_at=moment, requested_at=moment + timedelta(hours=30), reason=reason,
                          as_of=self.now, delivered_at=moment + timedelta(minutes=5), outage_hours=Decimal(72))
            snapshots.append(decide(facts, policy).as_dict())
        return snapshots

    def grow_to(self, size: int) -> float:
        started = time.perf_counter()
        if self.total == 0:
            for first in range(0, size, CHUNK):
                self._chunk(first, min(first + CHUNK, size))
        else:
            if size % self.total:
                raise ValueError(f"{size} is not a multiple of the {self.total} rows already loaded")
            with transaction.atomic():
                for copy in range(1, size // self.total):
                    self._copy(copy)
        self.base = self.base or size
        self.total = size
        return time.perf_counter() - started

    def _copy(self, copy: int) -> None:
        """Copy the base rows once more; ``copy`` (1-25) picks the letter that keeps numbers unique."""
        letter = "CDEFGHJKLMNPQRSTUVWXYZ"[copy - 1]
        cases = copy * self.base
        customers = copy * (self.base // CASES_PER_CUSTOMER)
        _copy_rows(Customer, self.base // CASES_PER_CUSTOMER, {
            "id": f'"id" + {customers}', "email": f"'c{copy}.' || \"email\"",
        })
        _copy_rows(Order, self.base, {
            "id": f'"id" + {cases}', "customer_id": f'"customer_id" + {customers}',
            "number": f"'{letter}' || substr(\"number\", 2)",
        })
        _copy_rows(Subscription, self.base, {"id": f'"id" + {cases}', "order_id": f'"order_id" + {cases}'})
        _copy_rows(RefundCase, self.base, {
            "id": f'"id" + {cases}', "order_id": f'"order_id" + {cases}',
            "number": f"'RC-{letter}' || substr(\"number\", 5)", "portal_key": f"\"portal_key\" || '-{copy}'",
        })
        _copy_rows(CaseEvent, self.base, {"id": f'"id" + {cases}', "case_id": f'"case_id" + {cases}'})

    def _chunk(self, first: int, last: int) -> None:
        customers, orders, subscriptions, cases, events = [], [], [], [], []
        for i in range(first, last):
            c = i // CASES_PER_CUSTOMER
            storefront = self.storefronts[c % len(self.storefronts)]
            if i % CASES_PER_CUSTOMER == 0:
                customers.append(Customer(id=c + 1, storefront=storefront, email=customer_email(c),
                                          name=f"Customer {c}"))
            plan = self.plans[storefront.pk][i % len(PLAN_SHAPES)]
            requested = self.now - timedelta(minutes=(i * 37) % (60 * 24 * 180))
            purchased = requested - timedelta(hours=(i % 9) * 11 + 1)
            orders.append(Order(
                id=i + 1, storefront=storefront, number=order_number(i), customer_id=c + 1, plan=plan,
                amount=plan.price, currency="USD", payment_method="card", purchased_at=purchased,
            ))
            subscriptions.append(Subscription(
                id=i + 1, order_id=i + 1, delivered_at=None if i % 5 == 0 else purchased + timedelta(minutes=5),
            ))
            cases.append(self._case(i, requested=requested, amount=plan.price, storefront=storefront))
            events.append(CaseEvent(
                id=i + 1, case_id=i + 1, kind=CaseEvent.Kind.CREATED, actor_label="system", created_at=requested,
                decision=cases[-1].decision, visibility=CaseEvent.Visibility.CUSTOMER,
            ))
        with transaction.atomic():
            for model, rows in ((Customer, customers), (Order, orders), (Subscription, subscriptions),
                                (RefundCase, cases), (CaseEvent, events)):
                model.objects.bulk_create(rows, batch_size=2_000)

    def _case(self, i: int, *, requested: datetime, amount: Decimal, storefront) -> RefundCase:
        state = STATE_CYCLE[i % len(STATE_CYCLE)]
        waiting = state in (State.AWAITING_FIX, State.EVIDENCE_REQUESTED)
        approved = state in (State.APPROVED, State.PAID)
        deadline = requested + timedelta(hours=48 if state == State.AWAITING_FIX else 24 * 7)
        return RefundCase(
            id=i + 1,
            number=case_number(i),
            portal_key=f"bench-{i}",
            order_id=i + 1,
            # bulk_create skips save(): the copies of the order's terms are set here.
            storefront=storefront,
            currency="USD",
            reason=REASONS[i % len(REASONS)],
            channel="email",
            requested_at=requested,
            state=state,
            assignee=None if i % 3 == 0 else self.agents[i % len(self.agents)],
            next_deadline=deadline if waiting else None,
            flagged=state == State.REQUESTED and i % 23 == 0,
            flag_reason="Evidence request overdue." if state == State.REQUESTED and i % 23 == 0 else "",
            decision=self.snapshots[i % len(self.snapshots)],
            decided_at=requested,
            resolution=RESOLUTION.get(state, ""),
            approved_amount=amount if approved else None,
            approved_by=self.admin if approved else None,
            approved_at=requested + timedelta(hours=2) if approved else None,
        )


def _copy_rows(model, count: int, changed: dict[str, str]) -> None:
    """INSERT ... SELECT of the first ``count`` rows, with SQL expressions for the columns that change."""
    columns = [field.column for field in model._meta.concrete_fields]
    unknown = set(changed) - set(columns)
    if unknown:
        raise ValueError(f"{model.__name__} has no column(s) {sorted(unknown)}")
    table = model._meta.db_table
    names = ", ".join(f'"{column}"' for column in columns)
    values = ", ".join(changed.get(column, f'"{column}"') for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f'INSERT INTO "{table}" ({names}) SELECT {values} FROM "{table}" WHERE "id" <= %s', [count])


def customer_email(c: int) -> str:
    return f"customer{c:06d}@example.com"


def order_number(i: int) -> str:
    return f"B{i + 1:07d}"


def case_number(i: int) -> str:
    return f"RC-B{i + 1:07d}"


def variants() -> dict[str, tuple[str, str | None]]:
    """name -> (query string, a case number the page must show, if any); all within the first 1k rows."""
    probe = 777
    return {
        "list": ("", None),
        "filter state=requested": ("?state=requested", None),
        "filter open + overdue": ("?state=open&overdue=yes", None),
        "search order number": (f"?q={order_number(probe)}", case_number(probe)),
        "search customer e-mail": (f"?q={customer_email(probe // CASES_PER_CUSTOMER)}", case_number(probe)),
    }


def measure(client: Client, query: str, expect: str | None) -> dict:
    return time_get(client, URL + query, repeats=REPEATS, expect=expect)


def run(*, quick: bool = False, log=print) -> dict:
    sizes = QUICK_SIZES if quick else SIZES
    loader = Loader(now=timezone.now())
    client = Client()
    client.force_login(loader.admin)
    results: dict = {"url": URL, "sizes": list(sizes), "repeats": REPEATS, "by_size": {}}
    for size in sizes:
        load_seconds = loader.grow_to(size)
        log(f"  admin: {size:,} cases loaded ({load_seconds:.1f} s); measuring")
        results["by_size"][str(size)] = {
            "load_seconds": round(load_seconds, 2),
            "variants": {name: measure(client, query, expect) for name, (query, expect) in variants().items()},
        }
    small, large = (results["by_size"][str(size)]["variants"] for size in sizes)
    results["ratios"] = {}
    for name in small:
        a, b = small[name], large[name]
        if "seconds" in a and "seconds" in b:
            results["ratios"][name] = {
                "time": round(b["seconds"] / a["seconds"], 2),
                "queries": round(b["queries"] / a["queries"], 2),
                "queries_constant": a["queries"] == b["queries"],
            }
    return results


def report(results: dict, log=print) -> None:
    small, large = results["sizes"]
    log(f"  {'variant':<24}{f'{small:,}: time':>14}{'queries':>9}{f'{large:,}: time':>16}{'queries':>9}"
        f"{'time x':>9}{'queries x':>11}  target: queries do not grow")
    for name in results["by_size"][str(small)]["variants"]:
        a = results["by_size"][str(small)]["variants"][name]
        b = results["by_size"][str(large)]["variants"][name]
        if "seconds" not in a or "seconds" not in b:
            log(f"  {name:<24} not measured: {a.get('error') or a.get('status')} / {b.get('error') or b.get('status')}")
            continue
        ratio = results["ratios"][name]
        verdict = "PASS" if ratio["queries_constant"] else "FAIL"
        missing = " (expected case not on the page!)" if False in (a["found"], b["found"]) else ""
        log(f"  {name:<24}{a['seconds'] * 1000:>11.0f} ms{a['queries']:>9}{b['seconds'] * 1000:>13.0f} ms"
            f"{b['queries']:>9}{ratio['time']:>9.2f}{ratio['queries']:>11.2f}  {verdict}{missing}")
