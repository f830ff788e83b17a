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
    assert result.summary == "4 new, 0 updated, 0 unchanged, 1 skipped, 0 errors"
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
        "record 3": ["total"], "record 5": ["billing.email"],  # counted from 1 on the page
    }
    assert "confirm_form" not in page.context
    assert re.search(rb"record 3", page.content)
    assert Order.objects.count() == 0


def test_it_refuses_the_import_to_an_agent(plans, s0, agent_client):
    assert agent_client.get(reverse(IMPORT_URL)).status_code == 403
    assert upload(agent_client, s0, WOO.read_bytes()).status_code == 403
    assert Order.objects.count() == 0


def upload_and_confirm(client, s0, content: bytes):
    preview = upload(client, s0, content)
    confirm = preview.context["confirm_form"]
    return client.post(reverse("admin:orders_order_process_import"), {n: confirm[n].value() for n in confirm.fields})


def test_it_lists_the_first_thousand_new_or_updated_orders_and_counts_all_of_them(plans, s0, manager_client):
    from orders.imports.admin import PREVIEW_ROWS
    from orders.imports.engine import import_orders
    from tests.reports.test_import_at_scale import shop_orders

    data = shop_orders(1500)
    import_orders(storefront=s0, text=json.dumps(data[:300]), fmt="woocommerce", commit=True)
    stored = Order.objects.count()
    data[5]["total"] = "15.99"  # an order already stored, changed
    page = upload(manager_client, s0, json.dumps(data).encode())
    result = page.context["result"]
    summary = result.summary
    new = int(summary.split()[0])
    counts = re.fullmatch(rf"{new} new, 1 updated, (\d+) unchanged, (\d+) skipped, 0 errors", summary)
    assert counts and int(counts[1]) + int(counts[2]) == 1500 - 1 - new and new > 1100, summary
    listed = result.valid_rows()
    assert len(listed) == PREVIEW_ROWS and {row.import_type for row in listed} == {"new", "update"}
    assert listed[0].diff[1] == str(data[5]["number"])  # file order: the update comes first
    assert result.totals["new"] == new and result.totals["update"] == 1 and result.totals["skip"] == int(counts[2])
    assert f"{summary}. The first 1000 new or updated orders are listed; the other {1500 - PREVIEW_ROWS}".encode() \
        in page.content
    assert page.content.count(b'<tr class="new">') == PREVIEW_ROWS - 1

    confirm = page.context["confirm_form"]
    done = manager_client.post(reverse("admin:orders_order_process_import"),
                               {n: confirm[n].value() for n in confirm.fields})
    assert done.status_code == 302
    assert Order.objects.filter(storefront=s0).count() == stored + new  # the whole file, not the listed part
    assert Order.objects.get(storefront=s0, number=data[5]["number"]).amount == Decimal("15.99")


def test_it_lists_the_first_thousand_records_with_errors_and_counts_all_of_them(plans, s0, manager_client):
    from tests.reports.test_import_at_scale import shop_orders

    data = shop_orders(1200)
    for order in data:
        order["currency"] = "dollars"
    page = upload(manager_client, s0, json.dumps(data).encode())
    result = page.context["result"]
    assert result.summary.endswith(", 1200 errors") and len(result.invalid_rows) == 1000
    assert b"The first 1000 records with errors are listed; 200 more are not." in page.content
    assert "confirm_form" not in page.context and Order.objects.count() == 0


def test_it_takes_a_file_larger_than_the_evidence_limit(plans, s0, manager_client, settings):
    settings.EVIDENCE_MAX_BYTES = 1000
    content = WOO.read_bytes()
    assert len(content) > 1000
    result = upload(manager_client, s0, content).context["result"]
    assert result.summary == "4 new, 0 updated, 0 unchanged, 1 skipped, 0 errors"


def test_it_cuts_off_a_file_past_the_import_limit_and_says_so(plans, s0, manager_client, settings):
    settings.ORDER_IMPORT_MAX_BYTES = 2000
    page = upload(manager_client, s0, b"[" + b" " * 500_000 + b"]")
    assert page.status_code == 200
    assert page.context["form"].errors["import_file"] == [
        "The file is larger than the 2,000 bytes limit. Split the export into several files."]
    assert "result" not in page.context and Order.objects.count() == 0


def test_it_answers_bad_files_and_forged_confirms_with_a_message(plans, s0, manager_client):
    page = upload(manager_client, s0, b"\xff\xfe not text")
    assert page.status_code == 200 and page.context["form"].errors["import_file"]
    page = upload(manager_client, s0, b"not json")
    assert page.status_code == 200 and page.context["result"].summary == "0 new, 0 updated, 0 unchanged, 0 skipped, 1 errors"

    preview = upload(manager_client, s0, WOO.read_bytes())
    confirm = preview.context["confirm_form"]
    data = {name: confirm[name].value() for name in confirm.fields}
    assert list(data) == ["token"]  # the storefront, file and format are the preview's (test_import_confirm.py)
    forged = manager_client.post(reverse("admin:orders_order_process_import"), {"token": data["token"] + "x"})
    assert forged.status_code == 302
    assert "does not match a preview of yours" in str(list(forged.wsgi_request._messages)[0])
    assert Order.objects.count() == 0


def test_it_warns_of_an_order_in_another_currency_and_counts_records_from_one(plans, s0, manager_client):
    page = upload(manager_client, s0, WOO.read_bytes())
    html = page.content.decode()
    assert page.context["result"].warnings == [
        "record 2, currency: the order is in EUR, the storefront's currency is USD: check that this order belongs "
        "to IPTV Smarters Pro"]
    assert 'id="import-warnings"' in html and "the order is in EUR" in html
    skipped = [row for row in page.context["result"].valid_rows() if row.import_type == "skip"]
    assert [(row.diff[0], row.diff[1]) for row in skipped] == [("record 5", "5105")]
    assert "not a paid order" in skipped[0].diff[-1]
