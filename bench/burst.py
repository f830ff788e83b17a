"""(g) An outage burst: the portal's request form under gunicorn and PostgreSQL, as customers send it.

Usage: ``.venv/bin/python bench/burst.py [--quick] [--workers 3] [--server-env NAME=VALUE ...]``
(``make bench-burst``). Drops and creates the database ``BENCH_BURST_URL`` (default
``postgres://postgres@127.0.0.1:5432/refunds_burst_bench``), migrates it, seeds one order per post,
then starts gunicorn (sync workers) on a free loopback port with production settings: DEBUG off, a
random SECRET_KEY, rate limits in the local Redis (database ``--redis-db``, emptied first), mail to
files in a temporary directory, uploads there too. Every request says ``X-Forwarded-Proto: https``,
as the proxy in front of production does, so nothing is redirected. As in production, a Celery
broker is configured (the local Redis, database ``--broker-db``, emptied first) and a Celery worker
started by the bench looks for each post's order, opens or joins the case and sends the e-mail. The
worker runs niced (``--worker-nice``): on two shared cores the answers to customers come first and
the backlog drains behind them, which is what the broker is for during a burst.

The load is open: posts are sent on a fixed schedule at the offered rate, each from a loopback
address of its own (the client socket is bound to 127.a.b.c before it connects) with a customer and
an order of its own, so neither per-address nor per-e-mail rate limits apply. One post in ten names
an order with the wrong e-mail address (the form answers the same; no case may open). Each rate is
held for a few seconds, the next step starts when the last answer is in; latency is measured from
the moment a post was due, so a client that falls behind counts against the server. Then a longer
step at 80 % of each target gives the p95. The load is bounded: at most ``--max-posts`` posts, each
answer within 30 s, and every step within its duration plus 60 s.

Then gunicorn stops, and the bench waits (at most ``--drain-seconds``) until the worker has handled
every stored submission and sent every queued e-mail. Only then is it checked that every matching
post that was answered 200 made exactly one case, one case link and one e-mail (sent, and written by
the mail backend), and one stored file when it carried one; the posts with the wrong address none.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/refunds_burst_bench"
SHOP = "iptv-smarters-pro"
TARGETS = {"plain": 100.0, "screenshot": 20.0}  # posts/s
P95_TARGET_MS = 500.0
ANSWER_TIMEOUT = 30.0
WRONG_EMAIL_EVERY = 10


@dataclass
class Post:
    index: int
    order_number: str
    email: str
    matching: bool
    with_file: bool
    status: int = 0
    latency: float = 0.0
    error: str = ""


@dataclass
class Step:
    name: str
    kind: str
    offered: float
    duration: float
    posts: list[Post] = field(default_factory=list)
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU ms per answered post

    def cpu_ms(self, before: dict[str, float], after: dict[str, float]) -> None:
        answered = max(1, len(self.answered()))
        self.cpu = {k: (after[k] - before[k]) * 1000 / answered for k in before}

    def answered(self) -> list[Post]:
        return [p for p in self.posts if p.status == 200]

    def achieved(self) -> float:
        return len(self.answered()) / self.wall if self.wall else 0.0

    def percentile(self, q: float) -> float:
        times = sorted(p.latency for p in self.answered())
        if not times:
            return float("nan")
        return times[min(len(times) - 1, int(q * len(times)))] * 1000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short steps, to check the bench itself")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--plain-rates", default="40,60,80,100,120,140", help="offered posts/s without a file")
    parser.add_argument("--screenshot-rates", default="10,15,20,25,30", help="offered posts/s with a screenshot")
    parser.add_argument("--step-seconds", type=float, default=8.0)
    parser.add_argument("--p95-seconds", type=float, default=15.0, help="the step at 80 %% of each target")
    parser.add_argument("--max-posts", type=int, default=12_000)
    parser.add_argument("--redis-db", type=int, default=11, help="the rate limits' Redis database")
    parser.add_argument("--broker-db", type=int, default=12, help="the Celery broker's Redis database")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--worker-nice", type=int, default=10, help="niceness of the Celery worker")
    parser.add_argument("--drain-seconds", type=float, default=900.0,
                        help="longest wait for the worker to finish the backlog after the last post")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra variable for gunicorn, e.g. CONN_MAX_AGE=0 (repeatable)")
    parser.add_argument("--app-dir", type=Path, default=ROOT, help="the checkout gunicorn serves")
    parser.add_argument("--only", choices=["plain", "screenshot"], help="one kind of post only")
    parser.add_argument("--keep-files", action="store_true", help="keep the stored uploads and mails")
    return parser.parse_args(argv)


# --- database, server ---------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"Unusual database name {name!r}: give BENCH_BURST_URL a plain name.")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def server_env(args: argparse.Namespace, url: str, workdir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "EMAIL_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "backoffice.settings",
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "CONNECTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": url,
        "CACHE_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{args.broker_db}",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(workdir / "mail"),
        "MEDIA_ROOT": str(workdir / "media"),
        "STATIC_ROOT": str(workdir / "static"),
        "SITE_URL": f"https://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
    })
    for item in args.server_env:
        name, _, value = item.partition("=")
        env[name] = value
    return env


def manage(env: dict[str, str], app_dir: Path, *command: str) -> None:
    subprocess.run([sys.executable, "manage.py", *command], cwd=app_dir, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(args: argparse.Namespace, env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "backoffice.wsgi", "--workers", str(args.workers), "--worker-class", "sync",
               "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--timeout", "120"]
    server = subprocess.Popen(command, cwd=args.app_dir, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped at start:\n{log.read_text()[-3000:]}")
        try:
            status, _ = exchange(port, "127.0.0.1", request_get(port))
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    stop(server)
    raise SystemExit("gunicorn did not answer within 60 s")


def start_worker(args: argparse.Namespace, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The Celery worker, niced: it takes the CPU the web workers leave, so answers come first."""
    celery = Path(sys.executable).with_name("celery")
    command = ["nice", "-n", str(args.worker_nice), str(celery), "-A", "backoffice", "worker", "--pool", "prefork",
               "--concurrency", str(args.worker_concurrency), "--loglevel", "WARNING", "--without-gossip",
               "--without-mingle", "--without-heartbeat"]
    worker = subprocess.Popen(command, cwd=args.app_dir, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    # With the kernel's autogroups (sched_autogroup_enabled), niceness only ranks processes within
    # one session: the worker's session of its own would share the CPU with gunicorn's as an equal.
    # The group's own niceness ranks the sessions.
    try:
        Path(f"/proc/{worker.pid}/autogroup").write_text(str(args.worker_nice))
    except OSError:
        pass  # no autogroups: the process's niceness alone does it
    time.sleep(3)
    if worker.poll() is not None:
        raise SystemExit(f"the Celery worker stopped at start:\n{log.read_text()[-3000:]}")
    return worker


def backlog() -> tuple[int, int]:
    """Submissions not yet handled, and e-mails not yet sent (queued, or failed)."""
    from cases.models import OutboxMessage
    from portal.models import PortalSubmission

    return (PortalSubmission.objects.count(),
            OutboxMessage.objects.exclude(status=OutboxMessage.Status.SENT).count())


def drain(seconds: float) -> tuple[float, tuple[int, int]]:
    """Wait until the worker has handled every submission and sent every e-mail; how long it took."""
    started = time.monotonic()
    left = backlog()
    while left != (0, 0) and time.monotonic() - started < seconds:
        time.sleep(1.0)
        left = backlog()
    return time.monotonic() - started, left


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


# --- data ---------------------------------------------------------------------------------------


def seed(count: int) -> list[tuple[str, str]]:
    """``count`` paid, delivered orders an hour old, each of its own customer; (number, e-mail) each."""
    from datetime import timedelta
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from orders.models import Customer, Order, Plan, Storefront, Subscription

    shop = Storefront.objects.get(slug=SHOP)
    plan, _ = Plan.objects.get_or_create(storefront=shop, months=3, devices=1,
                                         defaults={"name": "3 months", "price": Decimal("29.99")})
    bought = timezone.now() - timedelta(hours=1)
    with transaction.atomic():
        customers = Customer.objects.bulk_create(
            [Customer(storefront=shop, email=f"burst{i}@example.com", name=f"Customer {i}") for i in range(count)],
            batch_size=2000,
        )
        orders = Order.objects.bulk_create(
            [Order(storefront=shop, number=f"B{i:07d}", customer=customer, plan=plan, amount=plan.price,
                   currency="USD", payment_method="card", purchased_at=bought)
             for i, customer in enumerate(customers)],
            batch_size=2000,
        )
        Subscription.objects.bulk_create(
            [Subscription(order=order, delivered_at=bought + timedelta(minutes=5)) for order in orders],
            batch_size=2000,
        )
    return [(order.number, customer.email) for order, customer in zip(orders, customers)]


def screenshot() -> bytes:
    from bench.uploads_bench import screenshot_png

    return screenshot_png()


# --- the client ---------------------------------------------------------------------------------


def source_address(index: int) -> str:
    """A loopback address of its own for every post, from 127.1.0.1 on (Linux routes all of 127/8)."""
    return f"127.{1 + index // (256 * 254)}.{(index // 254) % 256}.{1 + index % 254}"


def request_get(port: int) -> bytes:
    return (f"GET /portal/{SHOP}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Forwarded-Proto: https\r\n"
            "Connection: close\r\n\r\n").encode()


# Django accepts a form token equal to the CSRF cookie's secret (32 characters): the client picks one
# instead of fetching the form first, so every request of the bench is a post.
CSRF_SECRET = "b" * 32


def request_post(port: int, post: Post, image: bytes) -> list[bytes]:
    boundary = "burst" + secrets.token_hex(8)
    fields = {"csrfmiddlewaretoken": CSRF_SECRET, "order_number": post.order_number, "email": post.email,
              "reason": "technical_issue", "description": "Nothing plays since this morning."}
    head = "".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                   for k, v in fields.items())
    parts = [head.encode()]
    if post.with_file:
        parts += [(f"--{boundary}\r\nContent-Disposition: form-data; name=\"screenshots\"; filename=\"IMG_0001.png\""
                   "\r\nContent-Type: image/png\r\n\r\n").encode(), image, b"\r\n"]
    parts.append(f"--{boundary}--\r\n".encode())
    length = sum(len(p) for p in parts)
    header = (f"POST /portal/{SHOP}/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Forwarded-Proto: https\r\n"
              f"Referer: https://127.0.0.1:{port}/portal/{SHOP}/\r\nCookie: csrftoken={CSRF_SECRET}\r\n"
              f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n"
              "Connection: close\r\n\r\n").encode()
    return [header, *parts]


def exchange(port: int, source: str, request: bytes | list[bytes]) -> tuple[int, bytes]:
    """Send one request from ``source``; the status and body once Content-Length bytes are in."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(ANSWER_TIMEOUT)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        for part in [request] if isinstance(request, bytes) else request:
            sock.sendall(part)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the headers")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")),
                      None)
        while length is None or len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return status, body


def run_step(step: Step, port: int, pool: ThreadPoolExecutor, image: bytes) -> None:
    count = len(step.posts)
    done = threading.Semaphore(0)

    def send(post: Post, due: float) -> None:
        try:
            post.status, _ = exchange(port, source_address(post.index), request_post(port, post, image))
        except Exception as error:  # a refused or timed-out connection is a result of the step
            post.error = f"{type(error).__name__}: {error}"
        post.latency = time.monotonic() - due
        done.release()

    start = time.monotonic()
    for i, post in enumerate(step.posts):
        due = start + i / step.offered
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        pool.submit(send, post, due)
    deadline = start + step.duration + 60
    for _ in range(count):
        if not done.acquire(timeout=max(0.1, deadline - time.monotonic())):
            break
    step.wall = time.monotonic() - start


# --- CPU time: what each post costs, whatever else the machine is doing --------------------------


TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # the process has ended
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def children_cpu(parents: list[int], database: str) -> tuple[dict[int, float], float]:
    """CPU seconds so far of the children of each of ``parents``, and of PostgreSQL's backends for
    ``database``; processes that ended since are missed, so none may end mid-step."""
    by_parent, backends = dict.fromkeys(parents, 0.0), 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent in by_parent:
            by_parent[parent] += _cpu_seconds(int(entry.name))
        elif cmdline.startswith(b"postgres: ") and f" {database} ".encode() in cmdline:
            backends += _cpu_seconds(int(entry.name))
    return by_parent, backends


def cpu_snapshot(server: subprocess.Popen, worker: subprocess.Popen, database: str) -> dict[str, float]:
    """CPU seconds so far of the gunicorn workers, of the Celery worker's processes (the prefork
    pool's and its own), of PostgreSQL's backends for the bench database, and of this client."""
    children, backends = children_cpu([server.pid, worker.pid], database)
    own = os.times()
    return {"django": children[server.pid], "celery": _cpu_seconds(worker.pid) + children[worker.pid],
            "postgres": backends, "client": own.user + own.system}


# --- the check ----------------------------------------------------------------------------------


def check(posts: list[Post], mail_dir: Path) -> dict:
    from django.db.models import Count

    from cases.models import CaseLink, Evidence, OutboxMessage, RefundCase

    answered = [p for p in posts if p.status == 200]
    matching = {p.order_number for p in answered if p.matching}
    wrong = {p.order_number for p in answered if not p.matching}
    with_file = {p.order_number for p in answered if p.matching and p.with_file}
    cases = dict(RefundCase.objects.values_list("order__number").annotate(n=Count("id")))
    by_case = dict(RefundCase.objects.values_list("pk", "order__number"))
    links = dict(CaseLink.objects.values_list("case__order__number").annotate(n=Count("id")))
    mails = dict(OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT, template="received")
                 .values_list("case__order__number").annotate(n=Count("id")))
    files = dict(Evidence.objects.exclude(file="").values_list("case__order__number").annotate(n=Count("id")))
    # The file backend names a file by the second and an object id, so two messages may share a file.
    mail_files = sum(len(re.findall(rb"^Message-ID: ", path.read_bytes(), re.M))
                     for path in (mail_dir.glob("*") if mail_dir.exists() else ()) if path.is_file())
    result = {
        "answered_matching": len(matching),
        "answered_wrong_email": len(wrong),
        "cases": sum(cases.values()),
        "orders_without_exactly_one_case": sum(1 for n in matching if cases.get(n) != 1),
        "orders_without_exactly_one_link": sum(1 for n in matching if links.get(n) != 1),
        "orders_without_exactly_one_sent_mail": sum(1 for n in matching if mails.get(n) != 1),
        "orders_without_exactly_one_file": sum(1 for n in with_file if files.get(n) != 1),
        "cases_for_a_wrong_email": sum(cases.get(n, 0) for n in wrong),
        "mails_written_by_the_backend": mail_files,  # Message-ID headers in its files
        "outbox_rows": OutboxMessage.objects.count(),
        "outbox_sent": OutboxMessage.objects.filter(status=OutboxMessage.Status.SENT).count(),
        "unanswered_posts_with_a_case": sum(1 for p in posts if p.status != 200 and p.order_number in cases),
    }
    result["ok"] = (
        result["orders_without_exactly_one_case"] == 0 and result["orders_without_exactly_one_link"] == 0
        and result["orders_without_exactly_one_sent_mail"] == 0 and result["orders_without_exactly_one_file"] == 0
        and result["cases_for_a_wrong_email"] == 0 and result["outbox_rows"] == len(by_case)
        and mail_files == result["outbox_sent"]
    )
    return result


# --- main ---------------------------------------------------------------------------------------


def plan_steps(args: argparse.Namespace) -> list[Step]:
    seconds = 3.0 if args.quick else args.step_seconds
    p95_seconds = 5.0 if args.quick else args.p95_seconds
    steps = []
    for kind, rates in (("plain", args.plain_rates), ("screenshot", args.screenshot_rates)):
        if args.only and kind != args.only:
            continue
        offered = [float(r) for r in rates.split(",") if r.strip()]
        if args.quick:
            offered = offered[::2]
        steps += [Step(f"{kind} {rate:g}/s", kind, rate, seconds) for rate in offered]
        steps.append(Step(f"{kind} p95 at 80 %", kind, 0.8 * TARGETS[kind], p95_seconds))
    return steps


def uptime() -> str:
    """The load average (1, 5, 15 minutes): how much else the machine was doing."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(steps: list[Step], result: dict) -> dict:
    print(f"\n{'step':24} {'offered':>8} {'achieved':>9} {'posts':>6} {'200':>6} {'errors':>7} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'max ms':>8} {'CPU ms a post: django':>22} {'celery':>7} {'postgres':>9} {'client':>7}")
    for s in steps:
        errors = len(s.posts) - len(s.answered())
        times = [p.latency for p in s.answered()]
        print(f"{s.name:24} {s.offered:8.1f} {s.achieved():9.1f} {len(s.posts):6} {len(s.answered()):6} {errors:7} "
              f"{s.percentile(0.5):8.0f} {s.percentile(0.95):8.0f} {max(times, default=0) * 1000:8.0f} "
              f"{s.cpu.get('django', 0):22.1f} {s.cpu.get('celery', 0):7.1f} {s.cpu.get('postgres', 0):9.1f} "
              f"{s.cpu.get('client', 0):7.1f}")
    summary = {}
    for kind, target in TARGETS.items():
        kept = [s for s in steps if s.kind == kind and len(s.answered()) == len(s.posts)]
        best = max((s.achieved() for s in kept), default=0.0)
        p95_step = next((s for s in steps if s.kind == kind and "p95" in s.name), None)
        if p95_step is None:
            continue
        summary[kind] = {"achieved": round(best, 1), "target": target, "p95_ms_at_80": round(p95_step.percentile(0.95)),
                         "p95_target_ms": P95_TARGET_MS, "rate_at_80": p95_step.offered,
                         "achieved_at_80": round(p95_step.achieved(), 1)}
        print(f"\n{kind}: achieved {best:.1f} posts/s (target {target:g}, best step with every post answered); "
              f"p95 {p95_step.percentile(0.95):.0f} ms at {p95_step.offered:g}/s offered "
              f"(target {P95_TARGET_MS:g} ms) -> rate {'PASS' if best >= target else 'MISS'}, "
              f"p95 {'PASS' if p95_step.percentile(0.95) <= P95_TARGET_MS else 'MISS'}")
    print("\nafter the drain, every matching post made exactly one case, one link and one e-mail (and one file "
          "when sent one): "
          f"{'YES' if result['ok'] else 'NO'}")
    for key, value in result.items():
        print(f"  {key}: {value}")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = os.environ.get("BENCH_BURST_URL", DEFAULT_URL)
    steps = plan_steps(args)
    total = sum(int(s.offered * s.duration) for s in steps)
    if total > args.max_posts:
        raise SystemExit(f"The steps would send {total} posts, more than --max-posts {args.max_posts}.")
    print(f"load average at start: {uptime()}; {total} posts in {len(steps)} steps; database {url}")

    recreate_database(url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-burst-"))
    try:
        ok = _run(args, url, steps, total, workdir)
    finally:
        if args.keep_files:
            print(f"uploads, mails and the server's log are in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


def _run(args: argparse.Namespace, url: str, steps: list[Step], total: int, workdir: Path) -> bool:
    port = free_port()
    env = server_env(args, url, workdir, port)
    started = time.monotonic()
    manage(env, args.app_dir, "migrate", "--noinput")
    manage(env, args.app_dir, "collectstatic", "--noinput")
    os.environ.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "backoffice.settings", "LOG_LEVEL": "WARNING"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=args.redis_db).flushdb()
    redis.Redis(host="127.0.0.1", port=6379, db=args.broker_db).flushdb()
    orders = seed(total)
    image = screenshot()
    print(f"migrated and seeded {total} orders in {time.monotonic() - started:.0f} s; screenshot "
          f"{len(image) / 1e6:.2f} MB PNG 1170x2532")

    index = 0
    for step in steps:
        for _ in range(int(step.offered * step.duration)):
            number, email = orders[index]
            matching = index % WRONG_EMAIL_EVERY != WRONG_EMAIL_EVERY - 1
            step.posts.append(Post(index, number, email if matching else f"not-{email}", matching,
                                   step.kind == "screenshot"))
            index += 1

    database = urlparse(url).path.lstrip("/")
    worker = start_worker(args, env, workdir / "celery.log")
    try:
        server = start_gunicorn(args, env, port, workdir / "gunicorn.log")
        first = cpu_snapshot(server, worker, database)
        try:
            with ThreadPoolExecutor(max_workers=400) as pool:
                for step in steps:
                    before = cpu_snapshot(server, worker, database)
                    run_step(step, port, pool, image)
                    time.sleep(0.5)
                    step.cpu_ms(before, cpu_snapshot(server, worker, database))
                    cpu = ", ".join(f"{k} {v:.0f}" for k, v in step.cpu.items())
                    print(f"{step.name:24} achieved {step.achieved():6.1f}/s, p95 {step.percentile(0.95):6.0f} ms, "
                          f"{len(step.posts) - len(step.answered())} without a 200; CPU ms a post: {cpu} "
                          f"(celery: what the worker did meanwhile); backlog {backlog()}; load {uptime()}",
                          flush=True)
        finally:
            # Graceful: each web worker finishes the request it holds; posts a client gave up on that were
            # still waiting in the listen queue are dropped with it.
            last = cpu_snapshot(server, worker, database)
            stop(server)
        print(f"backlog when the last answer was in: {backlog()} (submissions, unsent e-mails); draining, "
              f"at most {args.drain_seconds:g} s; load {uptime()}", flush=True)
        drained, left = drain(args.drain_seconds)
        end = cpu_snapshot(server, worker, database)
    finally:
        stop(worker)  # warm shutdown: the worker finishes the tasks it holds
    # Only now are the rows counted, so that nothing changes while they are.
    result = check([p for s in steps for p in s.posts], workdir / "mail")
    result.update({"drain_seconds": round(drained, 1), "left_after_drain": list(left)})
    result["ok"] = result["ok"] and left == (0, 0)
    answered = sum(len(s.answered()) for s in steps)
    whole = {k: round((end[k] - first[k]) * 1000 / max(1, answered), 1) for k in ("celery", "postgres")}
    whole["django"] = round((last["django"] - first["django"]) * 1000 / max(1, answered), 1)
    summary = report(steps, result)
    summary["cpu_ms_a_post_whole_run"] = whole
    print(f"the backlog drained in {drained:.0f} s after the last answer; CPU a post over the whole run, drain "
          f"included: gunicorn {whole['django']} ms, Celery worker {whole['celery']} ms, PostgreSQL "
          f"{whole['postgres']} ms (every kind of post together)")
    errors = sorted({p.error or str(p.status) for s in steps for p in s.posts if p.status != 200})
    if errors:
        print("answers other than 200:", "; ".join(errors[:5]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"burst-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({
        "summary": summary, "check": result, "workers": args.workers, "server_env": args.server_env,
        "worker_concurrency": args.worker_concurrency, "worker_nice": args.worker_nice,
        "steps": [{"name": s.name, "offered": s.offered, "achieved": s.achieved(), "posts": len(s.posts),
                   "answered": len(s.answered()), "p50_ms": s.percentile(0.5), "p95_ms": s.percentile(0.95),
                   "cpu_ms_per_post": s.cpu}
                  for s in steps],
    }, indent=2))
    print(f"\nload average at end: {uptime()}; results in {out.relative_to(ROOT)}")
    return bool(result["ok"])


if __name__ == "__main__":
    sys.exit(main())
