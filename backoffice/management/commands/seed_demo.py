from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from backoffice.demo import ADMIN_URL, login_block, seed_demo
from backoffice.demo_mail import mail_lines, seeding_quietly


class Command(BaseCommand):
    help = (
        "Load the demo: staff logins, plans, customers, orders and refund cases in every state. "
        "Running it again adds nothing and prints the logins."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default=ADMIN_URL, help="the admin's address, printed with the logins")

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError(
                "seed_demo creates accounts with published passwords; refused in production (DEBUG off)."
            )
        with seeding_quietly():
            report = seed_demo()
        if report.created:
            chargeback = ", one chargeback without prior contact" if report.chargeback else ""
            self.stdout.write(f"Demo data created: {report.orders} orders, {report.cases} refund cases{chargeback}.")
        else:
            self.stdout.write(
                f"Demo data already present ({report.orders} orders, {report.cases} refund cases): nothing added."
            )
        for line in mail_lines(emails=report.emails, created=report.created):
            self.stdout.write(line)
        self.stdout.write(login_block(report.logins, url=options["url"]))
