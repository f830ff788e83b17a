"""The minute's cron work where no Celery beat runs: the cases' deadlines, then the portal's left-over forms.

It lives in the project because it runs two apps' sweeps; each app's own sweep knows nothing of the other.
"""

from django.core.management.base import BaseCommand, CommandError

from cases.sweeps import sweep_deadlines
from portal.tasks import handle_left_over_submissions


class Command(BaseCommand):
    help = (
        "Act on deadlines that ran out: fix windows (S0-FIX-48H) and overdue evidence requests, and take "
        "up portal forms whose own job never ran. Meant for cron every minute where no Celery beat runs; "
        "two runs at once never act on a case twice."
    )

    def handle(self, *args, **options):
        report = sweep_deadlines()
        forms = handle_left_over_submissions()
        self.stdout.write(
            f"fix windows expired: {len(report.fix_windows_expired)}, "
            f"evidence reminders: {len(report.evidence_reminders)}, "
            f"evidence overdue: {len(report.evidence_expired)}, "
            f"portal forms taken up: {forms}"
        )
        if options["verbosity"] >= 2:
            for label, numbers in (
                ("fix window expired", report.fix_windows_expired),
                ("evidence reminder", report.evidence_reminders),
                ("evidence overdue", report.evidence_expired),
            ):
                for number in numbers:
                    self.stdout.write(f"  {label}: {number}")
        if report.failed:
            # A non-zero exit lets cron's mail or the monitoring notice; the other cases were done.
            raise CommandError(f"sweep failed on {len(report.failed)} case(s): {', '.join(report.failed)} (see the log)")
