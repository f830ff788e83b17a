from django.contrib import admin

from core.admin_site import ReadOnlyAdmin
from reports.models import ExportRecord


@admin.register(ExportRecord)
class ExportRecordAdmin(ReadOnlyAdmin):
    """Who exported which cases: read only, as the records are append-only."""

    list_display = ["created_at", "actor_label", "via", "format", "row_count", "filters"]
    list_filter = ["via", "format"]
    search_fields = ["actor_label"]
    date_hierarchy = "created_at"
