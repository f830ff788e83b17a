from django.core.management.base import BaseCommand, CommandError

from mail.ingest import ingest
from mail.mailboxes import MailboxConfigError, parse_mailbox_url


class Command(BaseCommand):
    help = (
        "Read the intake mailboxes (INTAKE_MAILBOXES, or --mailbox URL): refund e-mails open cases, replies "
        "add to theirs. Each message is handled once, even with two runs at once; handled messages are moved "
        "or flagged, failing ones kept aside with their error."
    )

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", action="append", default=[], metavar="URL",
                            help="imaps://…, imap+starttls://…, maildir:///path or mbox:///path (repeatable)")
        parser.add_argument("--limit", type=int, default=None, help="At most this many messages per mailbox.")

    def handle(self, *args, mailbox: list[str], limit: int | None, **options):
        from django.conf import settings

        urls = mailbox or settings.INTAKE_MAILBOXES
        if not urls:
            raise CommandError("No mailbox: set INTAKE_MAILBOXES or pass --mailbox URL.")
        unreachable = []
        for url in urls:
            try:
                config = parse_mailbox_url(url)
            except MailboxConfigError as error:
                raise CommandError(str(error)) from None
            try:
                report = ingest(config, limit=limit)
            except Exception as error:  # the other mailboxes still get read
                self.stderr.write(f"{config.name}: cannot be read: {error}")
                unreachable.append(config.name)
                continue
            self.stdout.write(
                f"{config.name}: processed {report.processed}, already done {report.already}, "
                f"kept aside {report.kept_aside}"
            )
            if options["verbosity"] >= 2:
                for line in report.outcomes:
                    self.stdout.write(f"  {line}")
        if unreachable:
            raise CommandError(f"could not read {len(unreachable)} mailbox(es): {', '.join(unreachable)}")
