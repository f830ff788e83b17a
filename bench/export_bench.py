"""The case report export: rows per second and peak memory, ours against the usual ways, same run.

Usage::

    .venv/bin/python bench/export_bench.py [--rows 100000] [--database-url URL] [--default-rows 20000]

Without ``--database-url`` the cases are loaded into a throwaway SQLite database in a temporary
directory. With one (e.g. ``postgres://postgres@127.0.0.1:5432/refunds_bench_1m``) the bench uses
the cases already there (the first ``--rows`` of them), loading some only if the database has none;
on PostgreSQL, ``COPY ... TO STDOUT`` of the same query is printed as the ceiling.

Each method runs in its own process, so each peak RSS is its own: ours (CSV, JSON, XLSX), the
same XLSX through openpyxl's write-only workbook (how it was written before decision 0028), the
hand-written ``values_list().iterator()`` + ``csv.writer`` loop, and django-import-export's
default ``export()`` (a whole tablib Dataset with ``select_related``), which is measured on
``--default-rows`` rows only: at 1.5k rows/s, 100k rows would take over a minute on their own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("ours_csv", "ours_json", "ours_xlsx", "openpyxl_xlsx", "handwritten_csv", "import_export_default",
           "pg_copy")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--default-rows", type=int, default=20_000)
    parser.add_argument("--skip", nargs="*", default=[], choices=METHODS)
    parser.add_argument("--measure", choices=METHODS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "backoffice.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False


def first_rows(rows: int):
    """The first ``rows`` cases by primary key, as a plain queryset (filters stay possible)."""
    from cases.models import RefundCase

    last = RefundCase.objects.order_by("pk").values_list("pk", flat=True)[rows - 1:rows].first()
    queryset = RefundCase.objects.all()
    return queryset.filter(pk__lte=last) if last is not None else queryset


def peak_rss_mb() -> float:
    """This process's own peak. Linux's ru_maxrss keeps the parent's peak across fork and exec, so a
    child of a big process (``make bench-pg`` after its views) would report its parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def measure(method: str, rows: int) -> dict:
    """Run one method (in this child process) and report what it did."""
    from reports import services

    queryset = first_rows(rows)
    started = time.perf_counter()
    # A zip is written with the offsets its file reports, and /dev/null reports 0 whatever was
    # written, which makes the zip's directory unwritable: the XLSX methods write a real file.
    sink_for = tempfile.TemporaryFile if method.endswith("xlsx") else lambda: open(os.devnull, "wb")
    with sink_for() as sink:
        if method in ("ours_csv", "ours_json", "ours_xlsx"):
            services.write_file(queryset, fmt=method.removeprefix("ours_"), out=sink)
            count = queryset.count()
        elif method == "openpyxl_xlsx":
            count = openpyxl_xlsx(queryset, sink)
        elif method == "handwritten_csv":
            count = handwritten(queryset, sink)
        elif method == "import_export_default":
            count = import_export_default(queryset, sink)
        else:
            count = pg_copy(queryset, sink)
    seconds = time.perf_counter() - started
    return {"method": method, "rows": count, "seconds": round(seconds, 3),
            "rows_per_second": round(count / seconds) if seconds else None, "peak_rss_mb": round(peak_rss_mb(), 1)}


def openpyxl_xlsx(queryset, sink) -> int:
    """The same rows through openpyxl's write-only workbook (with lxml), as the XLSX was written before."""
    from decimal import Decimal

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from reports.columns import COUNT, DAYS, MONEY
    from reports.resources import CaseReportResource
    from reports.writers import text_cells

    resource = CaseReportResource()
    cols = resource.columns
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("cases")
    sheet.append([c.name for c in cols])
    convert = text_cells(cols)
    money = [i for i, c in enumerate(cols) if c.kind == MONEY]
    counts = [i for i, c in enumerate(cols) if c.kind in (COUNT, DAYS)]
    count = 0
    for row in resource.export_rows(queryset):
        cells = convert(row)
        for i in money:
            if cells[i] is not None:
                cell = WriteOnlyCell(sheet, value=Decimal(cells[i]))
                cell.number_format = "0.00"
                cells[i] = cell
        for i in counts:
            if isinstance(cells[i], str):
                cells[i] = Decimal(cells[i])
        sheet.append(cells)
        count += 1
    workbook.save(sink)
    return count


def handwritten(queryset, sink) -> int:
    """What one writes first: the raw columns through values_list, datetimes and Decimals and all."""
    import csv
    import io

    fields = [
        "number", "order__storefront__slug", "order__number", "order__customer__email", "order__plan__months",
        "order__plan__devices", "order__amount", "order__currency", "reason", "channel", "state", "requested_at",
        "fix_started_at", "decided_at", "decision__outcome", "decision__clauses", "decision__policy_version",
        "approved_amount", "payout__amount", "payout__paid_at", "payout__method", "approved_at", "fix_deadline",
        "assignee__username", "statutory_override",
    ]
    text = io.TextIOWrapper(sink, encoding="utf-8", newline="")
    writer = csv.writer(text)
    writer.writerow(fields)
    count = 0
    for row in queryset.order_by("pk").values_list(*fields).iterator(chunk_size=5000):
        writer.writerow(row)
        count += 1
    text.flush()
    text.detach()
    return count


def import_export_default(queryset, sink) -> int:
    """django-import-export as its documentation shows it: a ModelResource over related fields."""
    from import_export import fields, resources

    from cases.models import RefundCase

    paths = {
        "case_number": "number", "storefront": "order__storefront__slug", "order_number": "order__number",
        "customer_email": "order__customer__email", "plan_months": "order__plan__months",
        "devices": "order__plan__devices", "amount_paid": "order__amount", "currency": "order__currency",
        "reason": "reason", "channel": "channel", "state": "state", "requested_at": "requested_at",
        "decided_at": "decided_at", "approved_amount": "approved_amount", "assignee": "assignee__username",
        "statutory_override": "statutory_override", "fix_deadline": "fix_deadline", "approved_at": "approved_at",
        "outcome": "decision", "clauses": "decision", "policy_version": "decision", "paid_amount": "decided_at",
    }
    declared = {name: fields.Field(attribute=path, column_name=name) for name, path in paths.items()}
    meta = type("Meta", (), {"model": RefundCase, "fields": tuple(paths)})
    resource_class = type("DefaultCaseResource", (resources.ModelResource,), {**declared, "Meta": meta})
    limited = queryset.select_related("order__storefront", "order__customer", "order__plan", "assignee")
    dataset = resource_class().export(limited)
    sink.write(dataset.csv.encode("utf-8"))
    return len(dataset)


def pg_copy(queryset, sink) -> int:
    """PostgreSQL's own COPY of our report query: the ceiling no Python loop reaches."""
    from django.db import connection

    from reports.columns import report_rows

    sql, params = report_rows(queryset).query.sql_with_params()
    count = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg 3
        with raw.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", params) as copy:
            for block in copy:
                sink.write(block)
                count += bytes(block).count(b"\n")
    return count - 1


def load(rows: int) -> float:
    """Synthetic cases (the admin bench's loader): a tenth built by the ORM, then copied in SQL."""
    from django.utils import timezone

    from bench.admin_bench import Loader

    started = time.perf_counter()
    base = max(1_000, rows // 20)
    loader = Loader(now=timezone.now())
    loader.grow_to(base)
    if rows > base:
        loader.grow_to(base * -(-rows // base))
    return time.perf_counter() - started


def child(method: str, rows: int, database_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, str(Path(__file__)), "--measure", method, "--rows", str(rows)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"method": method, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.measure:
        setup(os.environ["DATABASE_URL"])
        print(json.dumps(measure(args.measure, args.rows)))
        return 0
    workdir = None
    database_url = args.database_url
    if not database_url:
        workdir = Path(tempfile.mkdtemp(prefix="export-bench-"))
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    try:
        setup(database_url)
        from django.core.management import call_command
        from django.db import connection

        from cases.models import RefundCase

        if workdir is not None:
            call_command("migrate", interactive=False, verbosity=0)
        present = RefundCase.objects.count()
        if present == 0:
            print(f"Loading {args.rows:,} cases ...", flush=True)
            print(f"  loaded in {load(args.rows):.1f} s")
        rows = min(args.rows, RefundCase.objects.count())
        vendor = connection.vendor
        connection.close()
        print(f"Export of {rows:,} cases on {vendor} (each method in its own process)")
        results = []
        for method in METHODS:
            if method in args.skip or (method == "pg_copy" and vendor != "postgresql"):
                continue
            size = min(rows, args.default_rows) if method == "import_export_default" else rows
            result = child(method, size, database_url)
            results.append(result)
            report(result)
        summarise(results)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def report(result: dict) -> None:
    if "error" in result:
        print(f"  {result['method']:<24} failed: {result['error']}")
        return
    print(f"  {result['method']:<24}{result['rows']:>10,} rows{result['rows_per_second']:>10,} rows/s"
          f"{result['peak_rss_mb']:>9.0f} MB peak RSS{result['seconds']:>9.1f} s", flush=True)


def summarise(results: list[dict]) -> None:
    by = {r["method"]: r for r in results if "error" not in r}
    base = by.get("handwritten_csv")
    if base:
        for name in ("ours_csv", "ours_json"):
            if name in by:
                ratio = by[name]["rows_per_second"] / base["rows_per_second"]
                verdict = "PASS" if ratio >= 1 else "FAIL"
                print(f"  {name} / hand-written loop: {ratio:.2f}x  (target >= 1)  {verdict}")
    if "openpyxl_xlsx" in by and "ours_xlsx" in by:
        ratio = by["ours_xlsx"]["rows_per_second"] / by["openpyxl_xlsx"]["rows_per_second"]
        print(f"  ours_xlsx / openpyxl write-only: {ratio:.2f}x")
    if "pg_copy" in by and "ours_csv" in by:
        ratio = by["ours_csv"]["rows_per_second"] / by["pg_copy"]["rows_per_second"]
        print(f"  ours_csv / COPY: {ratio:.2f}x  (target >= 0.5)  {'PASS' if ratio >= 0.5 else 'FAIL'}")
    for name, r in by.items():
        if name.startswith("ours_"):
            print(f"  {name} peak RSS {r['peak_rss_mb']:.0f} MB (target < 150 MB)  "
                  f"{'PASS' if r['peak_rss_mb'] < 150 else 'FAIL'}")


if __name__ == "__main__":
    sys.exit(main())
