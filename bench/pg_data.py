"""The 1M-case data set on PostgreSQL, built with set-based SQL in its own database.

250,000 customers (four orders each, on the two shipped storefronts), 1,000,000 orders with their
subscriptions, one case per order and its 'created' event. Rows come from ``generate_series`` in a
handful of ``INSERT ... SELECT`` statements; the secondary indexes and the constraints of the big
tables are dropped first and rebuilt after the load, which also checks every constraint once.

The shape follows a working back office: cases of the last 30 days are mostly open (waiting for a
fix, for evidence, for a decision), older ones closed. A few due deadlines, flagged cases, cases
left to a manager and statutory overrides give the queues something to count.

Idempotent: a finished build is recorded in ``bench_dataset``; the next run with the same size
and shape version reuses it, anything else truncates the tables and builds again.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import connection, transaction

SHAPE_VERSION = "6"
CUSTOMERS_PER_CASE = 4
RECENT_DAYS = 30
SECONDS_APART = 15  # one request every 15 s: a million cases span 174 days

BIG_TABLES = ("orders_customer", "orders_order", "orders_subscription", "cases_refundcase", "cases_caseevent")
FIRST_NAMES = (
    "Anna Ben Carla David Elif Farid Greta Hugo Ines Jonas Karim Lena Marco Nadia Oskar Paula Quentin Rosa "
    "Samir Tess Umar Vera Wim Xenia Yusuf Zoe Amir Bianca Cem Dana Emil Frida Goran Hana Ivo Jana Kofi Lara "
    "Milan Nora Olga Piet Rania Sven Tara Ugo Vikram Wanda Yara Zeno"
).split()
SURNAME_HEADS = "Kowal Berg Sand Lind Hoff Mart Novak Stein Bran Fisch Wald Rosen Gold Eich Falk Horn Kraus Lam Moor Vogt".split()
SURNAME_TAILS = "ski ström mann sen ez ova feld ini ard ley".split()
DOMAINS = ("mail.example", "post.example", "inbox.example", "web.example", "example.net")
# The closed half of the lifecycle, for cases older than RECENT_DAYS (one slot in 16 each)
OLD_STATES = ["paid"] * 5 + ["denied"] * 5 + ["resolved"] * 3 + ["withdrawn"] * 2 + ["approved"]
RECENT_STATES = (
    ["requested"] * 5 + ["awaiting_fix"] * 2 + ["evidence_requested"] * 3 + ["approved"] * 2
    + ["denied", "paid", "resolved", "withdrawn"]
)
RESOLUTION = {"paid": "refunded", "denied": "denied", "resolved": "fixed", "withdrawn": "withdrawn"}
PRICES = ("14.99", "34.99", "54.99", "79.99", "129.99")
MANAGER_EVERY = 41
PLAN_SHAPES = ((1, 1), (3, 1), (6, 1), (12, 1), (12, 3))
DUE_EVERY = 50  # one waiting case in 50 is past its deadline: about a thousand for the sweep


def sql_text_array(values) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


def first_name_sql(c: str) -> str:
    return f"({sql_text_array(FIRST_NAMES)})[1 + ({c}) % {len(FIRST_NAMES)}]"


def surname_sql(c: str) -> str:
    heads, tails = len(SURNAME_HEADS), len(SURNAME_TAILS)
    return (f"(({sql_text_array(SURNAME_HEADS)})[1 + (({c}) / {len(FIRST_NAMES)}) % {heads}]"
            f" || ({sql_text_array(SURNAME_TAILS)})[1 + (({c}) / {len(FIRST_NAMES) * heads}) % {tails}])")


def email_sql(c: str) -> str:
    return (f"lower({first_name_sql(c)} || '.' || {surname_sql(c)}) || ({c})::text || '@' || "
            f"({sql_text_array(DOMAINS)})[1 + ({c}) % {len(DOMAINS)}]")


def case_number_sql(i: str) -> str:
    """RC- and 8 characters of the case-number alphabet: an odd multiplier mod 32^8 keeps them distinct."""
    from cases.models import NUMBER_ALPHABET

    x = f"((({i})::bigint * 2654435761 + 97531) % 1099511627776)"
    chars = " || ".join(f"substr('{NUMBER_ALPHABET}', (({x} >> {5 * k}) & 31)::int + 1, 1)" for k in range(7, -1, -1))
    return f"('RC-' || {chars})"


def case_number(i: int) -> str:
    from cases.models import NUMBER_ALPHABET

    x = (i * 2654435761 + 97531) % (1 << 40)
    return "RC-" + "".join(NUMBER_ALPHABET[(x >> (5 * k)) & 31] for k in range(7, -1, -1))


def order_number(i: int) -> str:
    return f"B{i:07d}"


def customer_email(c: int) -> str:
    first = FIRST_NAMES[c % len(FIRST_NAMES)]
    heads = len(SURNAME_HEADS)
    surname = SURNAME_HEADS[(c // len(FIRST_NAMES)) % heads] + SURNAME_TAILS[(c // (len(FIRST_NAMES) * heads)) % len(SURNAME_TAILS)]
    return f"{first}.{surname}".lower() + f"{c}@{DOMAINS[c % len(DOMAINS)]}"


def customer_of(i: int) -> int:
    return (i - 1) // CUSTOMERS_PER_CASE + 1


def _exec(sql: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _fetch(sql: str, params=None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def recorded() -> dict:
    _exec("CREATE TABLE IF NOT EXISTS bench_dataset (key text PRIMARY KEY, value text NOT NULL)")
    return dict(_fetch("SELECT key, value FROM bench_dataset"))


def ensure(*, cases: int, log=print) -> dict:
    """The data set of ``cases`` cases, built unless a finished build of the same shape is there."""
    want = {"cases": str(cases), "shape": SHAPE_VERSION}
    have = recorded()
    count = _fetch("SELECT count(*) FROM cases_refundcase")[0][0]
    if all(have.get(k) == v for k, v in want.items()) and count == cases:
        log(f"  data set: {cases:,} cases already built ({have.get('built_at')}, {have.get('build_seconds')} s)")
        vacuum(log=log)
        return have
    started = time.perf_counter()
    build(cases=cases, log=log)
    seconds = round(time.perf_counter() - started, 1)
    with transaction.atomic():
        _exec("DELETE FROM bench_dataset")
        for key, value in {**want, "built_at": have_now(), "build_seconds": str(seconds)}.items():
            _exec("INSERT INTO bench_dataset VALUES (%s, %s)", [key, value])
    log(f"  data set: {cases:,} cases built in {seconds} s")
    return recorded()


def have_now() -> str:
    return _fetch("SELECT now()::text")[0][0]


def _secondary(table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(constraint name, definition) and (index name, definition) of a table, its primary key aside."""
    constraints = _fetch(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('u', 'f', 'c') ORDER BY contype DESC, conname", [table])
    indexes = _fetch(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname",
        [table])
    return constraints, indexes


def users() -> tuple[User, list[User]]:
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    agents = [User.objects.get_or_create(username=f"bench-agent-{n}", defaults={"is_staff": True})[0]
              for n in range(3)]
    return admin, agents


def plans() -> dict[int, list[tuple[int, Decimal]]]:
    from orders.models import Plan, Storefront

    result = {}
    for storefront in Storefront.objects.order_by("slug"):
        rows = []
        for (months, devices), price in zip(PLAN_SHAPES, PRICES, strict=True):
            plan, _ = Plan.objects.get_or_create(
                storefront=storefront, months=months, devices=devices, name=f"{months} months x{devices}",
                defaults={"price": Decimal(price), "currency": "USD"})
            rows.append((plan.pk, plan.price))
        result[storefront.pk] = rows
    return result


def snapshots(now: datetime) -> list[tuple[dict, bool]]:
    """A decision snapshot per reason on each shipped policy, and whether it leaves the case to a manager.

    The first storefront's decisions are the common ones; the second's are mostly discretionary, and
    one case in ``MANAGER_EVERY`` gets one of those, for the managers' queue.
    """
    from cases.models import decision_needs_manager
    from policies.models import PolicyVersion
    from rules.engine import REASONS, Facts, decide

    moment = now - timedelta(days=3)
    out = []
    for version in PolicyVersion.objects.order_by("storefront__slug"):
        policy = version.to_policy()
        for reason in REASONS:
            facts = Facts(price=Decimal("34.99"), currency="USD", payment_method="card", plan_months=3,
                          purchased_at=moment, requested_at=moment + timedelta(hours=30), reason=reason,
                          as_of=now, delivered_at=moment + timedelta(minutes=5), outage_hours=Decimal(72))
            snapshot = decide(facts, policy).as_dict()
            out.append((snapshot, decision_needs_manager(snapshot)))
    return out


LOADED_TABLES = ("orders_customer", "orders_order", "orders_subscription", "cases_refundcase", "cases_caseevent",
                 "orders_plan", "orders_storefront")


def build(*, cases: int, log=print) -> None:
    """Load in one transaction: a build that fails half-way leaves the tables, and the indexes it
    dropped, as they were, instead of a database without its secondary indexes."""
    with transaction.atomic():
        # Django's foreign keys are deferred: checked at once, they leave no pending trigger events
        # to stop the ALTER TABLEs of the load.
        _exec("SET CONSTRAINTS ALL IMMEDIATE")
        _load(cases=cases, log=log)
    vacuum(log=log)


def vacuum(*, log=print) -> None:
    """Bring the visibility map up to date, as autovacuum keeps it on a live database.

    A VACUUM can only mark pages all-visible once no open transaction predates their rows, and the
    sweep bench's rolled-back updates clear the mark on the pages they touched; without it every
    index-only scan (deep pages, counts) reads the table as well. A few seconds when nothing changed.
    """
    started = time.perf_counter()
    for table in LOADED_TABLES:
        _exec(f'VACUUM ANALYZE "{table}"')
    log(f"    VACUUM ANALYZE: {time.perf_counter() - started:.1f} s")


def _load(*, cases: int, log=print) -> None:
    from rules.engine import REASONS

    customers = (cases + CUSTOMERS_PER_CASE - 1) // CUSTOMERS_PER_CASE
    admin, agents = users()
    plan_rows = plans()
    storefronts = sorted(plan_rows)
    now = datetime.fromisoformat(have_now())
    snaps = snapshots(now)
    step = time.perf_counter()

    def done(what: str) -> None:
        nonlocal step
        log(f"    {what}: {time.perf_counter() - step:.1f} s")
        step = time.perf_counter()

    _exec("SET synchronous_commit = off")
    _exec("SET maintenance_work_mem = '512MB'")
    _exec("SET work_mem = '128MB'")
    dropped: dict[str, tuple] = {}
    _exec("TRUNCATE " + ", ".join(BIG_TABLES) + " RESTART IDENTITY CASCADE")
    for table in BIG_TABLES:
        constraints, indexes = _secondary(table)
        dropped[table] = (constraints, indexes)
    for table, (constraints, indexes) in dropped.items():
        for name, _ in constraints:
            if _fetch("SELECT 1 FROM pg_constraint WHERE conname = %s AND conrelid = %s::regclass", [name, table]):
                _exec(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            _exec(f'DROP INDEX IF EXISTS "{name}"')
    done("tables emptied, secondary indexes and constraints dropped")

    sf = "ARRAY[" + ", ".join(str(s) for s in storefronts) + "]::bigint[]"
    plan_ids = "ARRAY[" + ", ".join(str(p) for s in storefronts for p, _ in plan_rows[s]) + "]::bigint[]"
    plan_prices = "ARRAY[" + ", ".join(str(price) for s in storefronts for _, price in plan_rows[s]) + "]::numeric[]"
    shapes = len(PLAN_SHAPES)
    _exec(f"""
        INSERT INTO orders_customer (id, storefront_id, email, name, phone, restricted_from_ordering,
                                     restriction_reason, created_at)
        SELECT c, ({sf})[1 + c % {len(storefronts)}], {email_sql('c')},
               {first_name_sql('c')} || ' ' || {surname_sql('c')}, '', false, '',
               now() - interval '200 days'
        FROM generate_series(1, {customers}) AS c
    """)
    done(f"{customers:,} customers")

    # One row per case: everything the order, subscription, case and event rows derive from.
    recent_slots = sql_text_array(RECENT_STATES)
    old_slots = sql_text_array(OLD_STATES)
    _exec("DROP TABLE IF EXISTS bench_rows")
    _exec(f"""
        CREATE UNLOGGED TABLE bench_rows AS
        SELECT i, c, sfi, plan_slot, requested_at,
               CASE WHEN requested_at > now() - interval '{RECENT_DAYS} days'
                    THEN ({recent_slots})[1 + (i * 7) % 16] ELSE ({old_slots})[1 + (i * 7) % 16] END AS state
        FROM (
            SELECT i, (i - 1) / {CUSTOMERS_PER_CASE} + 1 AS c,
                   ((i - 1) / {CUSTOMERS_PER_CASE} + 1) % {len(storefronts)} AS sfi,
                   (((i - 1) / {CUSTOMERS_PER_CASE} + 1) % {len(storefronts)}) * {shapes} + 1 + i % {shapes}
                       AS plan_slot,
                   now() - (i::bigint * {SECONDS_APART}) * interval '1 second' AS requested_at
            FROM generate_series(1, {cases}) AS i
        ) AS base
    """)
    done("row plan")

    _exec(f"""
        INSERT INTO orders_order (id, storefront_id, number, customer_id, plan_id, amount, currency,
                                  payment_method, processor_reference, purchased_at, status, refunded_amount,
                                  charged_back_amount, created_at)
        SELECT i, ({sf})[1 + sfi], 'B' || lpad(i::text, 7, '0'), c, ({plan_ids})[plan_slot],
               ({plan_prices})[plan_slot], 'USD',
               (ARRAY['card', 'paypal', 'crypto', 'bank_transfer'])[1 + i % 4], '',
               requested_at - ((i % 9) * 11 + 1) * interval '1 hour',
               CASE WHEN state = 'paid' THEN 'refunded' ELSE 'paid' END,
               CASE WHEN state = 'paid' THEN ({plan_prices})[plan_slot] ELSE 0 END, 0,
               requested_at - ((i % 9) * 11 + 1) * interval '1 hour'
        FROM bench_rows
    """)
    done(f"{cases:,} orders")
    _exec("""
        INSERT INTO orders_subscription (id, order_id, delivered_at, status, extension_days, access_reference)
        SELECT i, i, CASE WHEN i % 5 = 0 THEN NULL ELSE requested_at - ((i % 9) * 11 + 1) * interval '1 hour'
                                                        + interval '5 minutes' END,
               'active', 0, ''
        FROM bench_rows
    """)
    done(f"{cases:,} subscriptions")

    snap_json = "ARRAY[" + ", ".join("'" + json.dumps(s).replace("'", "''") + "'" for s, _ in snaps) + "]::jsonb[]"
    snap_manager = "ARRAY[" + ", ".join("true" if m else "false" for _, m in snaps) + "]::boolean[]"
    agent_ids = "ARRAY[" + ", ".join(str(a.pk) for a in agents) + "]::int[]"
    n = len(REASONS)
    reasons = sql_text_array(REASONS)
    deadline = f"""CASE
        WHEN state NOT IN ('awaiting_fix', 'evidence_requested') THEN NULL
        WHEN i % {DUE_EVERY} = 0 THEN now() - (i % 600) * interval '1 minute'
        ELSE now() + (1 + i % 9000) * interval '1 minute' END"""
    _exec(f"""
        INSERT INTO cases_refundcase (
            id, number, portal_key, order_id, reason, description, channel, reason_confirmed, requested_at,
            outage_hours, state, assignee_id, fix_started_at, fix_outcome, fix_deadline, evidence_requested_at,
            evidence_due_at, evidence_reminded_at, next_deadline, flagged, flag_reason, decision, decided_at,
            needs_manager, resolution, deny_reason, approved_amount, approved_by_id, approved_at, approval_note,
            statutory_override, approved_as_exception, approval_cancelled_at, approval_cancelled_by_id,
            statutory_basis, statutory_claim, created_at, updated_at, storefront_id, currency, first_response_at,
            fix_window_missed)
        SELECT i, {case_number_sql('i')}, 'bench-' || i, i, reason, '',
               (ARRAY['portal', 'email', 'whatsapp', 'admin'])[1 + i % 4], true, requested_at,
               CASE WHEN reason = 'server_outage' THEN 72 ELSE 0 END, state,
               CASE WHEN i % 3 = 0 THEN NULL ELSE ({agent_ids})[1 + i % {len(agents)}] END,
               CASE WHEN state = 'awaiting_fix' THEN requested_at + interval '1 hour' END,
               CASE WHEN state = 'awaiting_fix' THEN 'pending' ELSE '' END,
               CASE WHEN state = 'awaiting_fix' THEN {deadline} END,
               CASE WHEN state = 'evidence_requested' THEN requested_at + interval '1 hour' END,
               CASE WHEN state = 'evidence_requested' THEN {deadline} END,
               NULL, {deadline},
               state = 'requested' AND i % 23 = 0,
               CASE WHEN state = 'requested' AND i % 23 = 0 THEN 'Evidence request overdue.' ELSE '' END,
               decision, requested_at, manager AND state IN ('requested', 'awaiting_fix', 'evidence_requested'),
               CASE state WHEN 'paid' THEN 'refunded' WHEN 'denied' THEN 'denied' WHEN 'resolved' THEN 'fixed'
                          WHEN 'withdrawn' THEN 'withdrawn' ELSE '' END,
               CASE WHEN state = 'denied' THEN 'outside_window' ELSE '' END,
               CASE WHEN state IN ('approved', 'paid') THEN price END,
               CASE WHEN state IN ('approved', 'paid') THEN {admin.pk} END,
               CASE WHEN state IN ('approved', 'paid') THEN requested_at + interval '2 hours' END,
               '',
               state IN ('approved', 'paid') AND i % 997 = 0,
               state IN ('approved', 'paid') AND i % 997 = 0,
               NULL, NULL,
               CASE WHEN state IN ('approved', 'paid') AND i % 997 = 0
                    THEN 'Statutory right of withdrawal (consumer law).' ELSE '' END,
               false, requested_at, requested_at,
               -- The order's storefront and currency; no staff event or missed fix window in the log.
               ({sf})[1 + sfi], 'USD', NULL, false
        FROM (
            SELECT r.*, ({reasons})[1 + i % {n}] AS reason,
                   ({snap_json})[1 + i % {n} + CASE WHEN i % {MANAGER_EVERY} = 0 THEN {n} ELSE 0 END] AS decision,
                   ({snap_manager})[1 + i % {n} + CASE WHEN i % {MANAGER_EVERY} = 0 THEN {n} ELSE 0 END]
                       AS manager,
                   ({plan_prices})[plan_slot] AS price
            FROM bench_rows r
        ) AS rows
    """)
    done(f"{cases:,} cases")
    _exec("""
        INSERT INTO cases_caseevent (id, case_id, kind, transition, from_state, to_state, actor_label,
                                     created_at, decision, comment, visibility, data)
        SELECT i, i, 'created', '', '', 'requested', 'system', requested_at, '{}'::jsonb, '', 'customer',
               '{}'::jsonb
        FROM bench_rows
    """)
    done(f"{cases:,} events")
    _exec("DROP TABLE bench_rows")

    for table, (constraints, indexes) in dropped.items():
        for _, definition in indexes:
            _exec(definition)
        for name, definition in constraints:
            _exec(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    done("indexes and constraints rebuilt (every constraint checked)")
    for table in LOADED_TABLES:
        _exec(f'SELECT setval(pg_get_serial_sequence(%s, %s), (SELECT max(id) FROM "{table}"))', [table, "id"])
    done("sequences set")
