import json
import sys
from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.formats import date_format

from policies.models import PolicyDraft
from policies.words import outcome_words
from reports.backtest import run_backtest, start_backtest
from reports.models import Backtest

DEFAULT_DAYS = 90


def day(text: str) -> datetime:
    try:
        return timezone.make_aware(datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time.min))
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = (
        "Replay a draft policy version over the closed cases of a period with the policy engine, and print "
        "how many decisions change, from what to what, and the money difference per currency. "
        "Nothing about the cases changes; the run is recorded for the draft's publish page."
    )

    def add_arguments(self, parser):
        parser.add_argument("draft", type=int, help="The draft's id (see the admin's policy drafts).")
        parser.add_argument("--from", dest="start", help=f"First day (YYYY-MM-DD); default {DEFAULT_DAYS} days ago.")
        parser.add_argument("--to", dest="end", help="Last day, included (YYYY-MM-DD); default: now.")
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")

    def handle(self, *args, **options):
        draft = PolicyDraft.objects.filter(pk=options["draft"]).select_related("storefront").first()
        if draft is None:
            raise CommandError(f"There is no policy draft {options['draft']}.")
        # --to names the last day, included: the period ends at the start of the next one.
        end = day(options["end"]) + timedelta(days=1) if options["end"] else timezone.now()
        start = day(options["start"]) if options["start"] else end - timedelta(days=DEFAULT_DAYS)
        if start >= end:
            raise CommandError("The period must end after it starts.")
        queued = start_backtest(draft=draft, start=start, end=end)

        def progress(done: int, total: int) -> None:
            if options["verbosity"] >= 1:
                sys.stderr.write(f"\r{done:,} / {total:,} cases")

        # None: cancelled from the admin before this process took it up.
        run = run_backtest(queued.pk, progress=progress) or Backtest.objects.get(pk=queued.pk)
        if options["verbosity"] >= 1:
            sys.stderr.write("\n")
        if run.status == run.Status.CANCELLED:
            raise CommandError(f"Backtest {run.pk} was cancelled from the admin before it ended.")
        if run.status != run.Status.DONE:
            raise CommandError(f"The backtest failed: {run.error}")
        if options["json"]:
            self.stdout.write(json.dumps({"backtest": run.pk, "draft": draft.pk, "period_start": start.isoformat(),
                                          "period_end": end.isoformat(), **run.summary}, indent=2))
            return
        summary = run.summary
        self.stdout.write(f"Backtest {run.pk} of {draft}: closed cases decided from "
                          f"{date_format(timezone.localtime(start), 'DATETIME_FORMAT')} up to "
                          f"{date_format(timezone.localtime(end), 'DATETIME_FORMAT')}")
        self.stdout.write(f"  cases replayed: {summary['total']:,}; decisions that change: {summary['changed']:,}")
        for row in summary["transitions"]:
            self.stdout.write(f"  {outcome_words(row['from'])} -> {outcome_words(row['to'])}: {row['count']:,}")
        for row in summary["money"]:
            self.stdout.write(f"  {row['currency']}: refundable {row['before']} -> {row['after']} "
                              f"(difference {row['difference']})")
        for change in summary["sample"][:10]:
            self.stdout.write(f"  e.g. {change['number']}: {outcome_words(change['before'])} "
                              f"{change['before_amount'] or ''} -> {outcome_words(change['after'])} "
                              f"{change['after_amount'] or ''}")
