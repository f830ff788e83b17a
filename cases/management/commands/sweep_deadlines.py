from django.core.management.base import BaseCommand

from cases.sweeps import sweep_deadlines


class Command(BaseCommand):
    help = "Act on deadlines that ran out: fix windows (S0-FIX-48H) and overdue evidence requests."

    def handle(self, *args, **options):
        report = sweep_deadlines()
        self.stdout.write(
            f"fix windows expired: {len(report.fix_windows_expired)}, "
            f"evidence reminders: {len(report.evidence_reminders)}, "
            f"evidence overdue: {len(report.evidence_expired)}"
        )
