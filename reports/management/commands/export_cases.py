"""manage.py export_cases: the case report on standard output or into a file (docs/reports.md)."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError

from cases.models import RefundCase
from cases.states import State
from orders.models import Storefront
from reports import services
from reports.models import ExportRecord


def _bad(argument: str, why: str) -> CommandError:
    return CommandError(f"{argument}: {why}", returncode=2)


def _day(argument: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _bad(argument, f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Export refund cases (one row per case) as CSV, XLSX or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--format", default="csv", help="csv (default), xlsx or json")
        parser.add_argument("--output", default="-", help="file to write; '-' (default) is standard output")
        parser.add_argument("--storefront", nargs="+", action="extend", default=[], metavar="SLUG",
                            help="only these storefronts (one or more slugs; default: all)")
        parser.add_argument("--state", nargs="+", action="extend", default=[], metavar="STATE",
                            help=f"only cases in these states (one or more of {', '.join(State.values)}; default: all)")
        parser.add_argument("--from", dest="date_from", metavar="DATE", help="requested on or after (UTC)")
        parser.add_argument("--to", dest="date_to", metavar="DATE", help="requested on or before (UTC)")

    def handle(self, *args, **options):
        fmt = options["format"]
        if fmt not in ("csv", "xlsx", "json"):
            raise _bad("--format", f"{fmt!r} is not one of csv, xlsx, json")
        queryset, filters = self._queryset(options)
        count = queryset.count()
        services.export_record(user=None, actor_label=_os_user(), via=ExportRecord.Via.COMMAND, fmt=fmt,
                               filters=filters, row_count=count)
        progress = _progress(count) if sys.stderr.isatty() else None
        output = options["output"]
        if output == "-":
            self._to_stdout(queryset, fmt, progress)
        else:
            try:
                with open(output, "wb") as out:
                    services.write_file(queryset, fmt=fmt, out=out, progress=progress)
            except OSError as error:
                raise _bad("--output", str(error)) from None
        if progress:
            sys.stderr.write("\n")

    def _queryset(self, options):
        queryset = RefundCase.objects.all()
        filters: dict = {}
        slugs = options["storefront"]
        if slugs:
            known = set(Storefront.objects.filter(slug__in=slugs).values_list("slug", flat=True))
            unknown = [slug for slug in slugs if slug not in known]
            if unknown:
                raise _bad("--storefront", f"no storefront {', '.join(unknown)}")
            queryset = queryset.filter(storefront__slug__in=slugs)
            filters["storefront"] = slugs
        states = options["state"]
        if states:
            unknown = [state for state in states if state not in State.values]
            if unknown:
                raise _bad("--state", f"unknown state {', '.join(unknown)} (one of {', '.join(State.values)})")
            queryset = queryset.filter(state__in=states)
            filters["state"] = states
        start = _day("--from", options["date_from"]) if options["date_from"] else None
        end = _day("--to", options["date_to"]) if options["date_to"] else None
        if start and end and end < start:
            raise _bad("--to", "is before --from")
        if start:
            queryset = queryset.filter(requested_at__gte=datetime.combine(start, time.min, tzinfo=UTC))
            filters["from"] = start.isoformat()
        if end:  # inclusive: the whole of that day
            queryset = queryset.filter(requested_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC))
            filters["to"] = end.isoformat()
        return queryset, filters

    def _to_stdout(self, queryset, fmt, progress):
        stream = getattr(self.stdout, "_out", sys.stdout)
        binary = getattr(stream, "buffer", None)
        if binary is not None:  # a real standard output: UTF-8 bytes, whatever the locale
            stream.flush()
            services.write_file(queryset, fmt=fmt, out=binary, progress=progress)
            binary.flush()
            return
        if fmt == "xlsx":
            raise _bad("--output", "an XLSX file needs a binary output: give --output FILE")
        for chunk in services.stream(queryset, fmt=fmt, progress=progress):
            stream.write(chunk)


def _os_user() -> str:
    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):
        return "command line"


def _progress(total: int):
    def report(done: int) -> None:
        sys.stderr.write(f"\r{done}/{total} cases")
        sys.stderr.flush()

    return report

