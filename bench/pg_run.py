"""The million-case benchmark on PostgreSQL: builds the data set once, then times the real admin views.

Usage: ``.venv/bin/python bench/pg_run.py [--cases N] [--build-only] [--repeats N] [--only TEXT]
[--export-rounds N] [--skip-export]`` (``make bench-pg``). Then the deadline sweep, and the CSV
export of every case against PostgreSQL's COPY of the same columns (``bench/pg_export.py``). The database is ``refunds_bench_1m`` on the local server unless
``BENCH_PG_URL`` names another; it is created if missing, migrated, and never dropped: building a
million cases takes minutes, so a finished build is reused (see ``bench/pg_data.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/refunds_bench_1m"
MILLION = 1_000_000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=MILLION)
    parser.add_argument("--build-only", action="store_true", help="build (or check) the data set and stop")
    parser.add_argument("--repeats", type=int, default=5, help="timed requests per view (median and min)")
    parser.add_argument("--only", default="", help="measure only the views whose name contains this "
                        "('export': only the CSV export)")
    parser.add_argument("--export-rounds", type=int, default=3, help="CSV export against COPY, rounds (median)")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--baseline", help="a results JSON of the SQLite bench (100k) for the growth ratios")
    return parser.parse_args(argv)


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str, *, migrate: bool = True) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "backoffice.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", message="No directory at")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DEBUG = False
    if migrate:
        call_command("migrate", interactive=False, verbosity=0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    url = os.environ.get("BENCH_PG_URL", DEFAULT_URL)
    ensure_database(url)
    began = time.perf_counter()
    print(f"Database: {urlparse(url).path.lstrip('/')} (kept between runs)")
    setup_django(url)
    from bench import pg_data

    dataset = pg_data.ensure(cases=args.cases)
    if args.build_only:
        return 0
    from bench import pg_views

    results: dict = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cases": args.cases,
        "dataset": dataset,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
    }
    failed = 0
    if args.only != "export":
        print(f"\nAdmin views as a superuser, median and min of {args.repeats} after a warm-up")
        results["views"] = pg_views.run(repeats=args.repeats, only=args.only)
        failed += pg_views.report(results["views"])
        baseline = pg_views.load_baseline(args.baseline)
        if baseline:
            results["growth"] = pg_views.report_growth(results["views"], baseline)
        else:
            print("\n  Growth 100k -> 1M: no SQLite figures at 100k in bench/results; run `make bench` first.")
    if not args.skip_sweep and not args.only:
        from bench import pg_sweep

        results["sweep"] = pg_sweep.run()
        failed += pg_sweep.report(results["sweep"])
    if not args.skip_export and args.only in ("", "export"):
        from bench import pg_export

        results["export"] = pg_export.run(url=url, rows=args.cases, rounds=args.export_rounds)
        failed += pg_export.report(results["export"])
    results["total_seconds"] = round(time.perf_counter() - began, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = RESULTS / f"bench-pg-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\n{failed} target(s) missed. Total {results['total_seconds']} s. Results: {path.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
