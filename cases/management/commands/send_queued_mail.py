from django.core.management.base import BaseCommand

from cases.models import OutboxMessage
from cases.outbox import deliver_due, send_again


class Command(BaseCommand):
    help = (
        "Send the customer e-mails that are due (new ones whose worker hand-off was lost, and retries). "
        "Celery beat runs this every minute; without Celery, run it from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument("--retry-failed", action="store_true",
                            help="First put messages that ran out of attempts back in the queue.")

    def handle(self, *args, retry_failed: bool = False, **options):
        if retry_failed:
            failed = list(OutboxMessage.objects.filter(status=OutboxMessage.Status.FAILED))
            for message in failed:
                send_again(message)
            self.stdout.write(f"requeued: {len(failed)}")
        counts = deliver_due()
        self.stdout.write(f"sent: {counts['sent']}, to retry: {counts['queued']}, failed: {counts['failed']}")
