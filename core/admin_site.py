from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import update_wrapper

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.http import HttpRequest

from core.second_factor import gate
from core.second_factor.views import SecondFactorPages, exempt


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


@dataclass(frozen=True)
class Tool:
    label: str
    url: str
    count: object | None = None  # shown as text: a number, or "10,000+"
    alert: bool = False


ToolProvider = Callable[[HttpRequest, admin.AdminSite], list[Tool]]


class BackofficeAdminSite(admin.AdminSite):
    site_header = "Refund back office"
    site_title = "Refund back office"
    index_title = "Cases, orders and policies"
    # The case list and the case page need the width more than a second copy of the app list.
    enable_nav_sidebar = False

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._tool_providers: list[tuple[int, ToolProvider]] = []

    def get_urls(self):
        return SecondFactorPages(self).urls() + super().get_urls()

    def admin_view(self, view, cacheable=False):
        """Django's check (active staff, signed in), then the second factor a session owes (docs/two-factor.md).

        Every admin page goes through here, the models' own and every app's extra pages: one that is
        not marked ``exempt`` sends a session still owing its code to the code page, and a user who
        must set up a device to the set-up page, with the page asked for to come back to.
        """
        if getattr(view, "second_factor_exempt", False):
            return super().admin_view(view, cacheable)

        def owed_first(request, *args, **kwargs):
            step = gate.step_for(request)
            if step is not None:
                return SecondFactorPages(self).to_step(request, step)
            return view(request, *args, **kwargs)

        return super().admin_view(update_wrapper(owed_first, view), cacheable)

    @exempt
    def logout(self, request, extra_context=None):
        return super().logout(request, extra_context)

    def autocomplete_view(self, request):
        return LabelledAutocompleteJsonView.as_view(admin_site=self)(request)

    def index(self, request, extra_context=None):
        context = {"tools": self.tools_for(request), **(extra_context or {})}
        return super().index(request, extra_context=context)

    def tools_for(self, request) -> list[Tool]:
        """The agent's queues and the manager's tools, first thing on the index page.

        Each app adds its own from its admin module (``register_tools``): the site knows no app.
        """
        tools: list[Tool] = []
        for _, provider in sorted(self._tool_providers, key=lambda entry: entry[0]):
            tools += provider(request, self)
        return tools

    def register_tools(self, provider: ToolProvider, *, position: int) -> None:
        """Show ``provider(request, site)``'s tools on the index, lower positions first."""
        self._tool_providers.append((position, provider))
