"""Refunds settled by several processes at once, and a worker killed halfway: PostgreSQL's row locks
and real processes against the fake shop. The shop ends up with one refund; the case is paid once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from cases import services
from cases.models import RefundRequest
from shop.refunds import settle_refunds
from tests.conftest import race
from tests.shop.refund_world import PAID, SHOP_ID, assert_paid_once, later, pay_committed, shop_case

ROOT = Path(__file__).resolve().parents[2]
THREADS = 4

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_settle_runs_at_once_find_a_lost_answer_and_pay_once(woo, fake, people):
    case = shop_case(fake, people)
    fake.after_refund(drop=True)
    pay_committed(case, people)

    done, refused = race(lambda i: settle_refunds(now=later()).summary, threads=THREADS)

    assert refused == [] and set(done) == {"1 paid, 0 failed, 0 still waiting"}
    assert_paid_once(case, fake)
    assert len(fake.refund_posts()) == 1


def test_settle_runs_at_once_send_a_missing_refund_again_once(woo, fake, people):
    case = shop_case(fake, people)
    fake.fail_next(503)  # the first attempt made nothing
    pay_committed(case, people)

    done, refused = race(lambda i: settle_refunds(now=later()).summary, threads=THREADS)

    assert refused == [] and "1 paid, 0 failed, 0 still waiting" in done
    assert_paid_once(case, fake)
    assert len(fake.refund_posts()) == 2  # the first, and one more from one of the runs
    assert RefundRequest.objects.get(case=case).attempts == 2


def manage(*args: str, **env: str) -> subprocess.Popen:
    """``manage.py`` in a process of its own, on this test's database."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "DATABASE_URL": url, "SHOP_CONNECT_TIMEOUT": "0.2",
                                 "SHOP_READ_TIMEOUT": "0.2", "SHOP_REFUND_RESEND_MARGIN": "0",
                                 "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend", **env})


def test_two_settle_refunds_commands_at_once_pay_once(woo, fake, people):
    case = shop_case(fake, people)
    fake.fail_next(503)
    pay_committed(case, people)
    time.sleep(0.5)  # the first attempt is older than the commands' timeouts and margin

    runs = [manage("settle_refunds") for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], outputs
    last_lines = sorted(out.splitlines()[-1] for out, _ in outputs)
    assert "1 paid, 0 failed, 0 still waiting" in last_lines, outputs
    assert_paid_once(case, fake)
    assert len(fake.refund_posts()) == 2


def test_a_worker_killed_while_the_shop_makes_the_refund_leaves_it_for_the_settling_run(woo, fake, people):
    case = shop_case(fake, people)
    hold = fake.hold_refunds()
    services.case_pay(case=case, actor=people["manager"], reference="", now=PAID)  # no hand-off: the worker below
    request = RefundRequest.objects.get(case=case)
    worker = manage("shell", "-c", f"from shop.refunds import settle_request; settle_request(request_id={request.pk})")
    deadline = time.monotonic() + 60
    while not fake.refund_posts() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.refund_posts(), worker.communicate(timeout=5)

    worker.send_signal(signal.SIGKILL)  # mid-refund: the shop has the request, the worker is gone
    worker.wait(timeout=30)
    hold.set()  # the shop finishes making the refund, with nobody to answer
    deadline = time.monotonic() + 30
    while not fake.refunds_made(SHOP_ID) and time.monotonic() < deadline:
        time.sleep(0.05)

    request.refresh_from_db()
    assert (request.status, request.attempts) == ("sending", 1)
    assert settle_refunds(now=later()).summary == "1 paid, 0 failed, 0 still waiting"
    assert_paid_once(case, fake)
    assert len(fake.refund_posts()) == 1
