import json
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from policies.simulator import simulate_text


class Command(BaseCommand):
    help = "Print what the refund policy would decide for hypothetical cases (JSON in, JSON out; see docs/simulator.md)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="a JSON file with one case or an array of cases; '-' reads standard input")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            result, ok = {"error": "input: not UTF-8 text"}, False
        else:
            result, ok = simulate_text(text, now=timezone.now())
        self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
        if not ok:
            sys.exit(1)
