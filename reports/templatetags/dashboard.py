"""The managers' dashboard as a section of the admin index (``{% managers_dashboard %}``)."""

from __future__ import annotations

from django import template

from reports.dashboard import build_dashboard

register = template.Library()

PERMISSION = "cases.view_dashboard"


@register.inclusion_tag("admin/reports/dashboard.html", takes_context=True)
def managers_dashboard(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm(PERMISSION):
        return {"board": None}
    site_name = getattr(getattr(request, "resolver_match", None), "namespace", "") or "admin"
    board = build_dashboard(site_name=site_name)
    return {"board": board, "chart_data": board.chart_data()}
