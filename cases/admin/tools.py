"""The agent's queues and the case tools on the admin index."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from cases.list_queries import queue_count
from cases.models import RefundCase
from cases.selectors import needs_manager_q, open_cases_for, overdue_q
from cases.states import OPEN_STATES, State
from core.admin_site import Tool


def case_tools(request: HttpRequest, site: admin.AdminSite) -> list[Tool]:
    user = request.user
    tools: list[Tool] = []
    if user.has_perm("cases.view_refundcase"):
        cases_url = reverse(f"{site.name}:cases_refundcase_changelist")
        open_cases = RefundCase.objects.filter(state__in=list(OPEN_STATES))
        # Counted up to 10,000 ("10,000+" beyond), each on a partial index of its queue.
        overdue = queue_count(open_cases.filter(overdue_q(now=timezone.now())))
        tools += [
            Tool("My open cases", f"{cases_url}?assigned=me&state=open", queue_count(open_cases_for(user=user))),
            Tool("Overdue or flagged", f"{cases_url}?overdue=yes&state=open", overdue, alert=overdue > 0),
            Tool("Unassigned open cases", f"{cases_url}?assigned=nobody&state=open",
                 queue_count(open_cases.filter(assignee__isnull=True))),
            Tool("Needs a manager", f"{cases_url}?manager=yes&state=open",
                 queue_count(RefundCase.objects.filter(needs_manager_q()))),
            Tool("New customer messages", f"{cases_url}?waiting=message&state=all",
                 queue_count(RefundCase.objects.filter(customer_wrote_at__isnull=False))),
        ]
        if user.has_perm("cases.pay_refundcase"):
            tools.append(Tool("Approved, waiting to be paid", f"{cases_url}?waiting=payment&state=approved",
                              queue_count(RefundCase.objects.filter(state=State.APPROVED))))
    if user.has_perm("cases.add_refundcase"):
        tools.append(Tool("Open a refund case", reverse(f"{site.name}:cases_refundcase_add")))
    if user.has_perm("orders.add_chargeback"):
        tools.append(Tool("Record a chargeback", reverse(f"{site.name}:orders_chargeback_add")))
    return tools


admin.site.register_tools(case_tools, position=10)
