from django.contrib import admin

from cases.admin.case_admin import RefundCaseAdmin
from cases.admin.orders import ChargebackAdmin
from cases.models import RefundCase
from core.admin_site import ReadOnlyAdmin
from orders.models import Chargeback
from reports.admin_export import CaseExportAdminMixin
from reports.admin_packet import EvidencePacketAdminMixin
from reports.models import ExportRecord


class RefundCaseWithExportAdmin(CaseExportAdminMixin, RefundCaseAdmin):
    """The case list with its export page and export jobs; cases sit below reports and know neither."""


admin.site.unregister(RefundCase)
admin.site.register(RefundCase, RefundCaseWithExportAdmin)


class ChargebackWithPacketAdmin(EvidencePacketAdminMixin, ChargebackAdmin):
    """The chargeback (dispute) page with its evidence packet, which cases below know nothing of."""


admin.site.unregister(Chargeback)
admin.site.register(Chargeback, ChargebackWithPacketAdmin)


@admin.register(ExportRecord)
class ExportRecordAdmin(ReadOnlyAdmin):
    """Who exported which cases: read only, as the records are append-only."""

    list_display = ["created_at", "actor_label", "via", "format", "row_count", "filters"]
    list_filter = ["via", "format"]
    search_fields = ["actor_label"]
    date_hierarchy = "created_at"
