"""The admin's order picker: an autocomplete that survives ids that cannot be orders."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin.widgets import AutocompleteSelect

from orders.models import Order

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
    order_id = parse_order_id(raw)
    if order_id is None or not Order.objects.filter(pk=order_id).exists():
        messages.error(request, UNKNOWN_ORDER)
        return {}
    return {"order": order_id}
