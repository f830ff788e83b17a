"""The order import in the admin: upload, preview (a dry run), confirm; nothing written on an error."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from orders.models import Order
from tests.reports.test_import_orders import WOO, woo_orders

IMPORT_URL = "admin:orders_order_import"


def upload(client, s0, content: bytes, fmt_index: int = 0):
    return client.post(reverse(IMPORT_URL), {
        "storefront": s0.pk, "format": fmt_index,
        "import_file": SimpleUploadedFile("orders.json", content, content_type="application/json"),
    })


def test_it_previews_then_writes_on_confirm(plans, s0, manager_client):
    preview = upload(manager_client, s0, WOO.read_bytes())
    assert preview.status_code == 200
    result = preview.context["result"]
    assert result.summary == "4 new, 0 updated, 1 unchanged, 0 errors"
    assert [row.import_type for row in result.valid_rows()] == ["new", "new", "new", "new", "skip"]
    assert Order.objects.count() == 0  # the preview is a dry run
    confirm = preview.context["confirm_form"]
    data = {name: confirm[name].value() for name in confirm.fields}
    done = manager_client.post(reverse("admin:orders_order_process_import"), data)
    assert done.status_code == 302
    assert Order.objects.filter(storefront=s0).count() == 4


def test_it_shows_a_changed_order_as_an_update_with_its_changes(plans, s0, manager_client):
    upload_and_confirm(manager_client, s0, WOO.read_bytes())
    data = woo_orders()
    data[3]["total"] = "59.99"
    result = upload(manager_client, s0, json.dumps(data).encode()).context["result"]
    updated = [row for row in result.valid_rows() if row.import_type == "update"]
    assert len(updated) == 1 and updated[0].diff[1] == "5104"
    assert "amount: 54.99 → 59.99" in updated[0].diff[-1]
    assert Order.objects.get(number="5104").amount == Decimal("54.99")


def test_it_lists_errors_by_position_and_field_and_offers_no_confirm(plans, s0, manager_client):
    data = woo_orders()
    data[2]["total"] = "abc"
    data[4]["billing"]["email"] = ""
    page = upload(manager_client, s0, json.dumps(data).encode())
    result = page.context["result"]
    assert {row.number: list(row.field_specific_errors) for row in result.invalid_rows} == {
        "record 2": ["total"], "record 4": ["billing.email"],
    }
    assert "confirm_form" not in page.context
    assert re.search(rb"record 2", page.content)
    assert Order.objects.count() == 0


def test_it_refuses_the_import_to_an_agent(plans, s0, agent_client):
    assert agent_client.get(reverse(IMPORT_URL)).status_code == 403
    assert upload(agent_client, s0, WOO.read_bytes()).status_code == 403
    assert Order.objects.count() == 0


def upload_and_confirm(client, s0, content: bytes):
    preview = upload(client, s0, content)
    confirm = preview.context["confirm_form"]
    return client.post(reverse("admin:orders_order_process_import"), {n: confirm[n].value() for n in confirm.fields})
