"""The case page's "Customer links" card: which link the customer uses, revoke, re-issue."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseNotAllowed
from django.urls import path, reverse

from cases.customer_links import case_link_reissue, case_link_revoke
from cases.models import RefundCase
from core.errors import CaseActionError


def portal_links_context(*, case: RefundCase, user, now, site_name: str) -> dict:
    links = [] if getattr(case, "has_links", True) is False else list(
        case.links.select_related("created_by", "revoked_by").order_by("-created_at", "-id"))
    return {
        "portal_links": [{"link": link, "state": link.state_at(now)} for link in links],
        "can_manage_links": user.has_perm("cases.work_refundcase"),
        "portal_urls": {
            "revoke": reverse(f"{site_name}:cases_refundcase_links_revoke", args=[case.pk]),
            "reissue": reverse(f"{site_name}:cases_refundcase_links_reissue", args=[case.pk]),
        },
    }


class PortalLinksMixin:
    """Mixed into the case admin, beside the case page's other actions."""

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/links/revoke/", view(self.links_revoke_view), name="%s_%s_links_revoke" % info),
            path("<int:pk>/links/reissue/", view(self.links_reissue_view), name="%s_%s_links_reissue" % info),
        ] + super().get_urls()

    def links_revoke_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = self._case_or_404(request, pk)
        raw = request.POST.get("link", "")
        link_id = int(raw) if raw.isdigit() else None
        try:
            count = case_link_revoke(case=case, actor=request.user, link_id=link_id)
        except CaseActionError as error:
            return self._refuse(request, pk, error.message)
        messages.success(request, f"Revoked {count} customer link(s); they now show a page that offers a new link.")
        return self._back(pk)

    def links_reissue_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = self._case_or_404(request, pk)
        try:
            case_link_reissue(case=case, actor=request.user)
        except CaseActionError as error:
            return self._refuse(request, pk, error.message)
        messages.success(request, f"A new link was e-mailed to {case.order.customer.email}; earlier links no longer work.")
        return self._back(pk)
