"""The admin views at a million cases, through ``django.test.Client`` as a superuser.

Each view: a warm-up request, then ``repeats`` timed requests (median and min, in-process server
time), one more with the queries captured, and a check that a search shows the case it should.
The sortable columns are read from the admin itself, so a column that is not sortable is not asked.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from django.contrib import admin as django_admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

LIST_URL = "/admin/cases/refundcase/"
LIST_TARGET_MS = 100
INDEX_TARGET_MS = 50
CASE_PAGE_TARGET_MS = 100
CASE_PAGE_MAX_QUERIES = 8
DEEP_PAGE = 5000
PROBE = int(__import__("os").environ.get("BENCH_PROBE", "777777"))  # the case, order and customer the searches look for
# Views named as in the SQLite bench (bench/admin_bench.py), for the growth ratio 100k -> 1M.
GROWTH_NAMES = ("list", "filter state=requested", "filter open + overdue", "search order number",
                "search customer e-mail")


@dataclass(frozen=True)
class View:
    name: str
    url: str
    target_ms: float
    expect: str | None = None  # text the page must show
    max_queries: int | None = None


def sortable_columns() -> list[tuple[int, str]]:
    """(1-based position, name) of the list columns the admin lets an agent sort by."""
    from cases.models import RefundCase

    model_admin = django_admin.site._registry[RefundCase]
    columns = []
    for position, name in enumerate(model_admin.list_display, start=1):
        attr = getattr(model_admin, name, None)
        if attr is not None:
            if getattr(attr, "admin_order_field", None):
                columns.append((position, name))
            continue
        try:
            RefundCase._meta.get_field(name)
        except Exception:  # noqa: BLE001 - not a model field: not sortable
            continue
        columns.append((position, name))
    return columns


def views() -> list[View]:
    from bench.pg_data import case_number, customer_email, customer_of, order_number
    from cases.models import RefundCase
    from orders.models import Storefront

    number = case_number(PROBE)
    email = customer_email(customer_of(PROBE))
    case_pk = RefundCase.objects.only("pk").get(number=number).pk
    storefront = Storefront.objects.order_by("slug").first().pk
    surname = email.split("@")[0].split(".")[1].rstrip("0123456789")
    t = LIST_TARGET_MS
    out = [
        View("list", "", t),
        View("list, all states", "?state=all", t),
        View("search case number", f"?q={number}", t, number),
        View("search case number, no prefix", f"?q={number[3:]}", t, number),
        View("search case number, lower case", f"?q={number.lower()}", t, number),
        View("search case number, part", f"?q={number[4:9]}", t, number),
        View("search order number", f"?q={order_number(PROBE)}", t, number),
        View("search order number with #", f"?q=%23{order_number(PROBE)}", t, number),
        View("search customer e-mail", f"?q={email}", t, number),
        View("search e-mail, part", f"?q={email.split('@')[0][-9:]}", t, number),
        View("search name, part", f"?q={surname}", t),
        View("search, nothing found", "?q=zzqzzq", t),
        View(f"page {DEEP_PAGE}", f"?state=all&p={DEEP_PAGE}", t),
        View("page 200, open", "?p=200", t),
    ]
    for position, column in sortable_columns():
        out.append(View(f"sort {column} asc", f"?o={position}", t))
        out.append(View(f"sort {column} desc", f"?o=-{position}", t))
        out.append(View(f"sort {column} desc, all, page 100", f"?state=all&o=-{position}&p=100", t))
    filters = [
        ("state=requested", "state=requested"),
        ("manager", "manager=yes"),
        ("storefront", f"order__storefront__id__exact={storefront}"),
        ("reason", "reason=changed_mind"),
        ("overdue", "overdue=yes"),
        ("on time", "overdue=no"),
        ("assigned to me", "assigned=me"),
        ("unassigned", "assigned=nobody"),
        ("assigned to others", "assigned=others"),
        ("statutory override", "statutory_override__exact=1"),
    ]
    for label, query in filters:
        if label == "state=requested":
            out.append(View("filter state=requested", f"?{query}", t))
            continue
        out.append(View(f"filter {label}", f"?state=all&{query}", t))
        out.append(View(f"filter open + {label}" if label != "overdue" else "filter open + overdue",
                        f"?state=open&{query}", t))
    out.append(View("admin index (queue counts)", "/admin/", INDEX_TARGET_MS))
    out.append(View("case page", f"{LIST_URL}{case_pk}/change/", CASE_PAGE_TARGET_MS, number,
                    CASE_PAGE_MAX_QUERIES))
    return out


def measure(client: Client, view: View, repeats: int) -> dict:
    url = view.url if view.url.startswith("/") else LIST_URL + view.url
    try:
        response = client.get(url)
    except Exception as error:  # noqa: BLE001 - a broken page is reported, not fatal
        return {"url": url, "error": f"{type(error).__name__}: {error}"}
    if response.status_code != 200:
        return {"url": url, "status": response.status_code}
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    content = response.content.decode()
    median_ms = statistics.median(timings) * 1000
    found = None if view.expect is None else view.expect in content
    passed = median_ms <= view.target_ms and found is not False
    if view.max_queries is not None and len(queries) > view.max_queries:
        passed = False
    return {
        "url": url, "status": 200, "median_ms": round(median_ms, 1), "min_ms": round(min(timings) * 1000, 1),
        "queries": len(queries), "sql_ms": round(sum(float(q["time"]) for q in queries.captured_queries) * 1000, 1), "target_ms": view.target_ms, "max_queries": view.max_queries,
        "found": found, "pass": passed,
        "slowest_query_sql": max(queries.captured_queries, key=lambda q: float(q["time"]))["sql"][:400]
        if queries.captured_queries else None,
    }


def run(*, repeats: int = 5, only: str = "", log=print) -> dict:
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.get(username="bench-admin"))
    results = {}
    for view in views():
        if only and only not in view.name:
            continue
        started = time.perf_counter()
        results[view.name] = measure(client, view, repeats)
        log_line(view.name, results[view.name], log)
        if time.perf_counter() - started > 120:
            log("    (slow view: consider --repeats 1)")
    return results


def log_line(name: str, r: dict, log=print) -> None:
    if "median_ms" not in r:
        log(f"  {name:<44} not measured: {r.get('error') or r.get('status')}")
        return
    verdict = "PASS" if r["pass"] else "FAIL"
    queries = f"{r['queries']}" + (f" (max {r['max_queries']})" if r["max_queries"] else "")
    note = " expected case not on the page!" if r["found"] is False else ""
    sql = f"{r['sql_ms']:.1f} ms" if "sql_ms" in r else "-"
    log(f"  {name:<44}{r['median_ms']:>9.1f} ms{r['min_ms']:>9.1f} ms{queries:>10}{sql:>11}{r['target_ms']:>8.0f} ms"
        f"  {verdict}{note}")


def report(results: dict, log=print) -> int:
    log(f"\n  {'view':<44}{'median':>12}{'min':>12}{'queries':>10}{'SQL':>11}{'target':>11}")
    failed = 0
    for name, r in results.items():
        log_line(name, r, log)
        failed += not r.get("pass", False)
    return failed


def load_baseline(path: str | None) -> dict | None:
    """The 100k figures of the newest full SQLite bench run (or of ``path``)."""
    folder = Path(__file__).resolve().parent / "results"
    candidates = [Path(path)] if path else sorted(folder.glob("bench-2*.json"), reverse=True)
    for candidate in candidates:
        if not candidate.exists() or candidate.name.endswith("-quick.json"):
            continue
        data = json.loads(candidate.read_text(encoding="utf-8"))
        admin = data.get("admin")
        if admin and "100000" in admin.get("by_size", {}):
            return {"file": candidate.name, "variants": admin["by_size"]["100000"]["variants"]}
    return None


def report_growth(results: dict, baseline: dict, log=print) -> dict:
    log(f"\n  Growth 100k (SQLite, {baseline['file']}) -> 1M (PostgreSQL)")
    ratios = {}
    for name in GROWTH_NAMES:
        a, b = baseline["variants"].get(name, {}), results.get(name, {})
        if "seconds" in a and "median_ms" in b:
            ratio = b["median_ms"] / (a["seconds"] * 1000)
            ratios[name] = round(ratio, 2)
            log(f"  {name:<44}{a['seconds'] * 1000:>9.1f} ms -> {b['median_ms']:>9.1f} ms  x{ratio:.2f}"
                f"  queries {a['queries']} -> {b['queries']}")
    return ratios
