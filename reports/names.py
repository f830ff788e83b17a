"""An export in words, from the case list's filters: "Approved cases on Smarters Pro, reason other"."""

from __future__ import annotations

from cases.states import Reason, State
from orders.models import Storefront

STATES = dict(State.choices)
REASONS = dict(Reason.choices)
SIMPLE = {
    ("manager", "yes"): "needing a manager",
    ("overdue", "yes"): "overdue or flagged",
    ("overdue", "no"): "on time",
    ("assigned", "nobody"): "unassigned",
    ("assigned", "others"): "assigned to someone else",
    ("waiting", "message"): "with a new customer message",
    ("waiting", "payment"): "waiting to be paid",
    ("statutory_override__exact", "1"): "statutory overrides",
    ("statutory_override__exact", "0"): "without a statutory override",
}


def _one(value) -> str:
    return str(value[-1] if isinstance(value, list) else value)


def export_name(filters: dict, *, username: str = "") -> str:
    """What the export holds, as the case list's filters chose it."""
    filters = {key: _one(value) for key, value in (filters or {}).items()}
    search = filters.get("q", "").strip()
    state = filters.get("state") or ("all" if search else "open")
    head = {"open": "Open cases", "all": "All cases"}.get(state) or f"{STATES.get(state, 'All')} cases"
    parts = []
    if storefront := filters.get("storefront__id__exact"):
        shop = storefront.isdigit() and Storefront.objects.filter(pk=storefront).values_list("name", flat=True).first()
        parts.append(f"on {shop}" if shop else "on one storefront")
    if reason := filters.get("reason__exact"):
        parts.append(f"reason {str(REASONS.get(reason, 'other')).lower()}")
    if filters.get("assigned") == "me":
        parts.append(f"assigned to {username}" if username else "assigned to the exporter")
    parts += [words for (key, value), words in SIMPLE.items() if filters.get(key) == value]
    if search:
        parts.append(f"matching “{search}”")
    return ", ".join([head, *parts])
