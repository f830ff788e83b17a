"""The evidence packet's download, added to the chargeback admin: one PDF per chargeback or dispute.

Only whoever holds ``orders.download_evidence_packet`` (the support managers) gets it, and only for
a chargeback they may see; the dispute page links it as "Evidence packet (PDF)". A download is a
GET: it changes nothing, and the PDF is made afresh from what the records say now.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, StreamingHttpResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from reports.evidence_packet import chunks, evidence_packet, filename

PACKET_PERMISSION = "orders.download_evidence_packet"


class EvidencePacketAdminMixin:
    change_form_template = "admin/reports/chargeback/change_form.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<int:pk>/evidence-packet/", self.admin_site.admin_view(require_GET(self.evidence_packet_view)),
                 name="%s_%s_evidence_packet" % info),
            *super().get_urls(),
        ]

    def has_packet_permission(self, request, obj=None) -> bool:
        return request.user.has_perm(PACKET_PERMISSION) and self.has_view_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        if self.has_packet_permission(request):
            context["evidence_packet_url"] = reverse(
                f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_evidence_packet",
                args=[object_id],
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def evidence_packet_view(self, request, pk: int):
        # Refused before the row is looked up: without the permission, no address says whether it exists.
        if not self.has_packet_permission(request):
            raise PermissionDenied
        chargeback = self.get_object(request, str(pk))
        if chargeback is None:
            raise Http404("No such chargeback.")
        if not self.has_packet_permission(request, chargeback):
            raise PermissionDenied
        pdf = evidence_packet(chargeback)
        response = StreamingHttpResponse(chunks(pdf), content_type="application/pdf")
        response["Content-Length"] = str(len(pdf))
        response["Content-Disposition"] = f'attachment; filename="{filename(chargeback)}"'
        # Personal data: kept by no shared cache, and never sniffed into something else.
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
