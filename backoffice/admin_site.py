from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.urls import reverse
from django.utils import timezone


class ReadOnlyAdmin(admin.ModelAdmin):
    """For rows written only by services (events, payouts, extensions): shown, never edited here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_actions(self, request):
        return {}


class LabelledAutocompleteJsonView(AutocompleteJsonView):
    """Order pickers show who bought what: "#1234 · jane@example.com · 59.99 USD"."""

    def serialize_result(self, obj, to_field_name):
        result = super().serialize_result(obj, to_field_name)
        customer = getattr(obj, "customer", None)
        if customer is not None and hasattr(obj, "amount"):
            result["text"] = f"{obj} · {customer.email} · {obj.amount:.2f} {obj.currency}"
        return result


# Primary keys are 64-bit signed integers; a larger number sent to the database overflows (SQLite) or errors.
MAX_ORDER_ID = 2**63 - 1
UNKNOWN_ORDER = "There is no such order: pick one from the list."


def parse_order_id(value) -> int | None:
    """An order primary key from user input, or None if it cannot be one."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ORDER_ID else None


class OrderAutocompleteSelect(AutocompleteSelect):
    """The order picker; it renders a posted or linked id that cannot be an order as "nothing picked".

    Django looks the selected values up with ``pk__in``, which fails on anything that is not a
    database-sized integer, so the form would crash instead of showing its "no such order" error.
    """

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if parse_order_id(v) is not None], attr)


def use_order_picker(field: forms.ModelChoiceField, model_field, admin_site) -> None:
    """Turn a form's order field into the admin's order autocomplete."""
    field.widget = OrderAutocompleteSelect(model_field, admin_site)
    field.widget.choices = field.choices
    field.error_messages["invalid_choice"] = UNKNOWN_ORDER


def order_initial(request) -> dict:
    """The ``?order=<id>`` an add page was linked with, as the form's initial data.

    A link to an order that does not exist opens the empty form with a message rather than failing.
    """
    raw = request.GET.get("order", "")
    if raw == "":
        return {}
    from orders.models import Order

    order_id = parse_order_id(raw)
    if order_id is None or not Order.objects.filter(pk=order_id).exists():
        messages.error(request, UNKNOWN_ORDER)
        return {}
    return {"order": order_id}


@dataclass(frozen=True)
class Tool:
    label: str
    url: str
    count: object | None = None  # shown as text: a number, or "10,000+"
    alert: bool = False


class BackofficeAdminSite(admin.AdminSite):
    site_header = "Refund back office"
    site_title = "Refund back office"
    index_title = "Cases, orders and policies"
    # The case list and the case page need the width more than a second copy of the app list.
    enable_nav_sidebar = False

    def autocomplete_view(self, request):
        return LabelledAutocompleteJsonView.as_view(admin_site=self)(request)

    def index(self, request, extra_context=None):
        context = {"tools": self.tools_for(request), **(extra_context or {})}
        return super().index(request, extra_context=context)

    def tools_for(self, request) -> list[Tool]:
        """The agent's queues and the manager's tools, first thing on the index page."""
        from cases.list_queries import queue_count
        from cases.models import RefundCase
        from cases.selectors import needs_manager_q, open_cases_for, overdue_q
        from cases.states import OPEN_STATES, State

        user = request.user
        tools: list[Tool] = []
        if user.has_perm("cases.view_refundcase"):
            cases_url = reverse(f"{self.name}:cases_refundcase_changelist")
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
            tools.append(Tool("Open a refund case", reverse(f"{self.name}:cases_refundcase_add")))
        if user.has_perm("orders.add_chargeback"):
            tools.append(Tool("Record a chargeback", reverse(f"{self.name}:orders_chargeback_add")))
        if user.has_perm("policies.simulate_policy"):
            tools.append(Tool("Policy simulator", reverse(f"{self.name}:policies_policyversion_simulate")))
        return tools
