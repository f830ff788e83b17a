"""manage.py rotate_connection_keys: every connection's secrets encrypted again with the first key."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from shop.keys import SecretsUnreadable, first_key_opens, reseal
from shop.models import Connection


class Command(BaseCommand):
    help = ("Encrypt every connection's secrets again with the first key of CONNECTION_KEYS, so that the "
            "keys after it can be dropped (docs/shop.md).")

    def handle(self, *args, **options):
        rotated, already, unreadable = 0, 0, []
        for pk in Connection.objects.order_by("pk").values_list("pk", flat=True):
            with transaction.atomic():
                connection = Connection.objects.select_for_update().select_related("storefront").get(pk=pk)
                if first_key_opens(connection.sealed_secrets):
                    already += 1
                    continue
                try:
                    connection.sealed_secrets = reseal(connection.sealed_secrets)
                except SecretsUnreadable:
                    unreadable.append(str(connection))
                    continue
                connection.save(update_fields=["sealed_secrets"])
                rotated += 1
        for name in unreadable:
            self.stderr.write(f"{name}: no key of CONNECTION_KEYS opens its secrets; connect it again")
        self.stdout.write(f"{rotated} re-encrypted, {already} already with the first key, {len(unreadable)} unreadable")
        if unreadable:
            raise CommandError("some secrets could not be read: keep the old keys until they are set again",
                               returncode=1)
