"""Benchmarks: the policy engine and the admin case list, each against a baseline from the same run.

Usage: ``.venv/bin/python bench/run.py [--quick] [--skip-engine] [--skip-admin]``. Everything runs
on a throwaway SQLite database in a temporary directory; results go to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for checking the bench itself")
    parser.add_argument("--skip-engine", action="store_true")
    parser.add_argument("--skip-admin", action="store_true")
    return parser.parse_args(argv)


def setup_django(workdir: Path) -> None:
    # Before django.setup(): the settings read the database from the environment once.
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(workdir / "media")
    os.environ["DJANGO_SETTINGS_MODULE"] = "backoffice.settings"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # collectstatic has not run in a checkout; the admin pages render without it.
    warnings.filterwarnings("ignore", message="No directory at")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db.backends.signals import connection_created

    # Query logging is for debugging; the bench counts queries itself, where it measures.
    settings.DEBUG = False
    # Every request closes the connection (CONN_MAX_AGE=0), so each new one gets the pragmas.
    connection_created.connect(_fast_sqlite)
    call_command("migrate", interactive=False, verbosity=0)


def _fast_sqlite(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=OFF")  # a throwaway file: durability buys nothing


def shipped_policies():
    from policies.models import PolicyVersion

    versions = {v.storefront.slug: v for v in PolicyVersion.objects.select_related("storefront")}
    return versions["iptv-smarters-pro"].to_policy(), versions["smarters-pro"].to_policy()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="refund-bench-"))
    try:
        print(f"Throwaway database: {workdir / 'bench.sqlite3'}")
        setup_django(workdir)
        from bench import admin_bench, engine_bench

        results: dict = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "quick": args.quick,
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
        }
        if not args.skip_engine:
            print("\n(a) Policy engine: rules.engine.decide with the two shipped policies")
            results["engine"] = engine_bench.run(shipped_policies(), quick=args.quick)
            engine_bench.report(results["engine"])
        if not args.skip_admin:
            print(f"\n(b) Admin case list {admin_bench.URL} as a superuser (median of {admin_bench.REPEATS})")
            results["admin"] = admin_bench.run(quick=args.quick)
            admin_bench.report(results["admin"])
        results["total_seconds"] = round(time.perf_counter() - began, 1)
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = RESULTS / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nTotal {results['total_seconds']} s. Results: {path.relative_to(ROOT)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
