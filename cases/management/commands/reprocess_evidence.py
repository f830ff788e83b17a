from django.core.management.base import BaseCommand

from cases.reprocess import pending, reprocess_evidence


class Command(BaseCommand):
    help = (
        "Re-encode images stored before the upload pipeline (no metadata, upright) and make their "
        "thumbnails. Safe to run twice, or two at once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="check the files, change nothing")

    def handle(self, *args, **options):
        self.stdout.write(f"images to reprocess: {pending().count()}")
        report = reprocess_evidence(dry_run=options["dry_run"])
        verb = "would reprocess" if options["dry_run"] else "reprocessed"
        self.stdout.write(f"{verb}: {len(report.done)}, left as they are: {len(report.refused)}")
        for pk, why in report.refused:
            self.stdout.write(f"  evidence {pk}: {why}")
