"""The case list: filters and columns. Every column reads rows already joined by the queryset."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.db.models import OrderBy
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from cases.models import RefundCase
from cases.selectors import case_display_amount, is_overdue, needs_manager_q, overdue_q
from cases.states import OPEN_STATES, UNDECIDED_STATES, State
from orders.display import breakable_email


def state_badge(case: RefundCase) -> str:
    badge = format_html('<span class="rb-badge rb-state-{}">{}</span>', case.state, case.get_state_display())
    if case.statutory_claim and case.state in UNDECIDED_STATES:
        return format_html('{} <span class="rb-chip">{}</span>', badge, "consumer-law claim")
    if case.needs_manager and case.state in UNDECIDED_STATES:
        return format_html('{} <span class="rb-chip">{}</span>', badge, "needs a manager")
    return badge


def flagged_badge(case: RefundCase) -> str:
    return format_html('<span class="rb-flagged" title="{}">{}</span>', case.flag_reason or "Flagged", "Flagged")


def short_duration(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h"
    return f"{rest // 60} min"


def relative(moment: datetime, now: datetime) -> str:
    delta = moment - now
    return f"in {short_duration(delta)}" if delta.total_seconds() >= 0 else f"{short_duration(delta)} ago"


class StateFilter(admin.SimpleListFilter):
    """Opens on the open cases, as a help desk's queue does; "All" shows the closed ones too."""

    title = "state"
    parameter_name = "state"

    def __init__(self, request, params, model, model_admin):
        # A search looks for one case, order or customer: closed cases are found too, unless asked.
        self.searching = bool(request.GET.get("q", "").strip())
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [("open", "Open (any)"), *State.choices]

    def value(self):
        return super().value() or ("all" if self.searching else "open")

    def queryset(self, request, queryset):
        value = self.value()
        if value == "open":
            return queryset.filter(state__in=list(OPEN_STATES))
        if value in State.values:
            return queryset.filter(state=value)
        return queryset

    def choices(self, changelist):
        yield {
            "selected": self.value() == "all",
            "query_string": changelist.get_query_string({self.parameter_name: "all"}),
            "display": "All",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class NeedsManagerFilter(admin.SimpleListFilter):
    """Cases only a manager can settle: discretionary decisions and what exceeds an agent's limits."""

    title = "queue"
    parameter_name = "manager"

    def lookups(self, request, model_admin):
        return [("yes", "Needs a manager")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(needs_manager_q())
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue or flagged"), ("no", "On time")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(overdue_q(now=now))
        if self.value() == "no":
            return queryset.exclude(overdue_q(now=now))
        return queryset


class WaitingFilter(admin.SimpleListFilter):
    """Two queues read oldest first, each on a partial index (docs/decisions/0041)."""

    title = "waiting for us"
    parameter_name = "waiting"

    def lookups(self, request, model_admin):
        return [("message", "New message from the customer"), ("payment", "Approved, waiting to be paid")]

    def queryset(self, request, queryset):
        if self.value() == "message":
            return queryset.filter(customer_wrote_at__isnull=False)
        if self.value() == "payment":
            return queryset.filter(state=State.APPROVED)
        return queryset


# A queue's own order when no column is sorted: who waited longest comes first.
WAITING_ORDER = {"message": ["customer_wrote_at", "pk"], "payment": ["approved_at", "pk"]}


class AssigneeFilter(admin.SimpleListFilter):
    title = "assigned to"
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", "Me"), ("nobody", "Nobody"), ("others", "Someone else")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "nobody":
            return queryset.filter(assignee__isnull=True)
        if value == "others":
            return queryset.exclude(assignee__isnull=True).exclude(assignee=request.user)
        return queryset


class CaseListColumns:
    """Columns of the case list, as a mixin so the admin class stays about behaviour."""

    @admin.display(description="Case", ordering="number")
    def case_number(self, case: RefundCase) -> str:
        return format_html('<strong class="rb-mono">{}</strong>', case.number)

    @admin.display(description="State", ordering="state")
    def state_badge(self, case: RefundCase) -> str:
        return state_badge(case)

    @admin.display(description="Age", ordering="requested_at")
    def age(self, case: RefundCase) -> str:
        return format_html(
            '<span title="Requested {}">{}</span>',
            date_format(timezone.localtime(case.requested_at), "DATETIME_FORMAT"),
            short_duration(timezone.now() - case.requested_at),
        )

    @admin.display(description="Next deadline", ordering="next_deadline")
    def deadline(self, case: RefundCase) -> str:
        now = timezone.now()
        parts = []
        if case.next_deadline is not None:
            parts.append(
                format_html(
                    '<span title="{}">{}</span>',
                    date_format(timezone.localtime(case.next_deadline), "DATETIME_FORMAT"),
                    relative(case.next_deadline, now),
                )
            )
        if is_overdue(case, now=now):
            parts.append(format_html('<span class="rb-overdue">{}</span>', "Overdue"))
        if case.customer_wrote_at is not None:
            parts.append(format_html(
                '<span class="rb-flagged rb-new-message" title="Since {}">{}</span>',
                date_format(timezone.localtime(case.customer_wrote_at), "DATETIME_FORMAT"), "New message",
            ))
        if case.flagged:
            parts.append(flagged_badge(case))
            if case.flag_reason:
                parts.append(format_html('<div class="rb-quiet">{}</div>', case.flag_reason))
        return mark_safe(" ".join(parts)) if parts else "—"  # noqa: S308 - every part is escaped above

    # Not sortable: ordering by a joined name reads every row (filter by storefront instead).
    @admin.display(description="Storefront")
    def storefront_name(self, case: RefundCase) -> str:
        return case.order.storefront.name

    @admin.display(description="Order")
    def order_number(self, case: RefundCase) -> str:
        return format_html('<span class="rb-nowrap">{}</span><br><span class="rb-quiet">{}</span>', case.order,
                           breakable_email(case.order.customer.email))

    @admin.display(description="Amount", ordering="approved_amount")
    def amount(self, case: RefundCase) -> str:
        value, currency = case_display_amount(case)
        if value is None:
            return "—"
        if case.statutory_override:  # S1-STATUTORY: set apart wherever approvals are listed
            label = "statutory override"
        else:
            label = "paid" if case.state == State.PAID else "approved" if case.approved_amount is not None else "policy allows"
        if case.state == State.APPROVED and case.approved_by is not None:
            label = f"{label} by {case.approved_by.get_username()}"
        return format_html('{} {} <span class="rb-quiet">{}</span>', f"{value:.2f}", currency, label)

    @admin.display(description="Assignee")
    def assignee_name(self, case: RefundCase) -> str:
        return case.assignee.get_username() if case.assignee else "—"



def _descending(part) -> bool:
    if isinstance(part, str):
        return part.startswith("-")
    return isinstance(part, OrderBy) and part.descending


class CaseChangeList(ChangeList):
    """The case list's ordering ends with the id in the direction of the column before it.

    Django appends ``-pk`` to every ordering; ``ORDER BY deadline ASC, id DESC`` is served by no
    index, ``deadline ASC, id ASC`` by ``(next_deadline, id)`` read forwards and its reverse by the
    same index read backwards. The search note is kept for the template.
    """

    def get_ordering(self, request, queryset):
        waiting = self.params.get(WaitingFilter.parameter_name)
        if isinstance(waiting, list):
            waiting = waiting[-1]
        if ORDER_VAR not in self.params and waiting in WAITING_ORDER:
            return list(WAITING_ORDER[waiting])
        return super().get_ordering(request, queryset)

    def _get_deterministic_ordering(self, ordering):
        ordering = super()._get_deterministic_ordering(ordering)
        if len(ordering) >= 2 and ordering[-1] == "-pk" and not _descending(ordering[-2]):
            ordering[-1] = "pk"
        return ordering

    def get_results(self, request):
        super().get_results(request)
        self.shown_count = getattr(self.paginator, "shown_count", str(self.result_count))
        self.search_note = getattr(request, "case_search_note", None)

