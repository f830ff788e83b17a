"""The admin views at a million cases, through ``django.test.Client`` as a superuser.

Each view: a warm-up request, then ``repeats`` timed requests (median and min, in-process server
time), one more with the queries captured, and a check that a search shows the case it should.
The sortable columns are read from the admin itself, so a column that is not sortable is not asked.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from django.contrib import admin as django_admin
from django.test import Client, RequestFactory

from bench.timing import time_get

LIST_URL = "/admin/cases/refundcase/"
LIST_TARGET_MS = 100
INDEX_TARGET_MS = 50
DASHBOARD_TARGET_MS = 300  # the managers' index: queue counts and the dashboard
CASE_PAGE_TARGET_MS = 100
CASE_PAGE_MAX_QUERIES = 9
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
    as_agent: bool = False  # asked as a support agent (queues only) instead of the superuser


def sortable_columns(user) -> list[tuple[int, str]]:
    """(``o`` index, name) of the list columns the admin lets ``user`` sort by.

    The index is the one the change list reads: into its own list display, which starts with the
    selection checkbox when the user has actions.
    """
    from cases.models import RefundCase

    model_admin = django_admin.site._registry[RefundCase]
    request = RequestFactory().get(LIST_URL)
    request.user = user
    list_display = list(model_admin.get_list_display(request))
    if model_admin.get_actions(request):
        list_display.insert(0, "action_checkbox")
    columns = []
    for position, name in enumerate(list_display):
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


def views(user) -> list[View]:
    from bench.pg_data import case_number, customer_email, customer_of, order_number
    from cases.models import RefundCase
    from orders.models import Storefront

    number = case_number(PROBE)
    email = customer_email(customer_of(PROBE))
    case_pk = RefundCase.objects.only("pk").get(number=number).pk
    storefront = Storefront.objects.order_by("slug").first().pk
    surname = email.split("@")[0].split(".")[1].rstrip("0123456789")
    domain = email.split("@")[1]
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
        # A fifth of the cases (200,000 at 1M): the >10,000-match search, as "proton.me" would be.
        View("search e-mail domain", f"?q={domain}", t, f"Exact customer e-mail domain “{domain}”"),
        View("search e-mail domain with @, open", f"?q=%40{domain}&state=open", t,
             f"Exact customer e-mail domain “@{domain}”"),
        View("search name, part", f"?q={surname}", t),
        View("search, nothing found", "?q=zzqzzq", t),
        View(f"page {DEEP_PAGE}", f"?state=all&p={DEEP_PAGE}", t),
        View("page 200, open", "?p=200", t),
    ]
    for position, column in sortable_columns(user):
        out.append(View(f"sort {column} asc", f"?o={position}", t))
        out.append(View(f"sort {column} desc", f"?o=-{position}", t))
        out.append(View(f"sort {column} desc, all, page 100", f"?state=all&o=-{position}&p=100", t))
    filters = [
        ("state=requested", "state=requested"),
        ("manager", "manager=yes"),
        ("storefront", f"storefront__id__exact={storefront}"),
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
    out.append(View("admin index (queue counts)", "/admin/", INDEX_TARGET_MS, as_agent=True))
    out.append(View("admin index with the dashboard", "/admin/", DASHBOARD_TARGET_MS))
    out.append(View("case page", f"{LIST_URL}{case_pk}/change/", CASE_PAGE_TARGET_MS, number,
                    CASE_PAGE_MAX_QUERIES))
    return out


def measure(client: Client, view: View, repeats: int) -> dict:
    url = view.url if view.url.startswith("/") else LIST_URL + view.url
    result = time_get(client, url, repeats=repeats, expect=view.expect)
    if result.get("status") != 200:
        return result
    passed = result["median_ms"] <= view.target_ms and result["found"] is not False
    if view.max_queries is not None and result["queries"] > view.max_queries:
        passed = False
    return {**result, "target_ms": view.target_ms, "max_queries": view.max_queries, "pass": passed}


def run(*, repeats: int = 5, only: str = "", log=print) -> dict:
    from django.contrib.auth.models import Group, User

    superuser = User.objects.get(username="bench-admin")
    agent = User.objects.get(username="bench-agent-0")
    agent.groups.add(Group.objects.get(name="Support agent"))
    clients = {False: Client(), True: Client()}
    clients[False].force_login(superuser)
    clients[True].force_login(agent)
    results = {}
    for view in views(superuser):
        if only and only not in view.name:
            continue
        started = time.perf_counter()
        results[view.name] = measure(clients[view.as_agent], view, repeats)
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
