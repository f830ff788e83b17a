from django.contrib import admin

from core.admin_site import ReadOnlyAdmin
from mail.models import IntakeFailure


@admin.register(IntakeFailure)
class IntakeFailureAdmin(ReadOnlyAdmin):
    """Mailbox messages the intake kept aside, with the error, so someone can answer them by hand."""

    list_display = ["created_at", "mailbox", "sender", "subject", "error_short", "put_away_at", "resolved_at"]
    list_filter = ["mailbox"]
    search_fields = ["sender", "subject", "=message_id"]
    date_hierarchy = "created_at"
    exclude = ["raw"]

    @admin.display(description="Error")
    def error_short(self, failure: IntakeFailure) -> str:
        return failure.error if len(failure.error) <= 100 else failure.error[:99] + "…"
