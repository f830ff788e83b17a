"""The admin import's confirm imports exactly what was previewed: that storefront, that file, that
user's preview, once."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from import_export.tmp_storages import TempFolderStorage

from orders.models import Order
from tests.admin.conftest import client_for
from tests.reports.test_import_admin import upload
from tests.reports.test_import_orders import WOO, woo_orders

CONFIRM_URL = "admin:orders_order_process_import"


def preview(client, s0, content: bytes) -> dict:
    """Upload ``content`` for a preview and return what its confirm form would post."""
    page = upload(client, s0, content)
    assert page.status_code == 200 and "confirm_form" in page.context, page.context.get("result")
    confirm = page.context["confirm_form"]
    return {name: confirm[name].value() for name in confirm.fields}


def confirm(client, data: dict):
    return client.post(reverse(CONFIRM_URL), data)


def message(response) -> str:
    """The message the response added (earlier ones wait unread: the tests do not follow redirects)."""
    return [str(m) for m in response.wsgi_request._messages][-1]


def stored_path(data: dict) -> Path:
    """Where the preview's upload is stored (the confirm form named it before previews were recorded)."""
    name = data.get("import_file_name")
    if name is None:
        from orders.models import OrderImportPreview

        name = OrderImportPreview.objects.get(token=data["token"]).file_name
    return Path(TempFolderStorage(name=name).get_full_path())


def newer_file() -> bytes:
    data = woo_orders()
    data[3]["total"] = "59.99"  # order 5104
    return json.dumps(data).encode()


def test_it_imports_into_the_previewed_storefront_whatever_storefront_the_confirm_posts(plans, s0, s1,
                                                                                          manager_client):
    data = preview(manager_client, s0, WOO.read_bytes())
    done = confirm(manager_client, {**data, "storefront": s1.pk})
    assert done.status_code == 302 and message(done).startswith("Imported: 4 new")
    assert Order.objects.filter(storefront=s1).count() == 0
    assert Order.objects.filter(storefront=s0).count() == 4


def test_it_refuses_a_confirm_of_someone_elses_preview(plans, s0, manager_client, manager2):
    data = preview(manager_client, s0, WOO.read_bytes())
    refused = confirm(client_for(manager2), data)
    assert refused.status_code == 302 and refused.url == reverse("admin:orders_order_import")
    assert message(refused) == ("Nothing imported: this confirmation does not match a preview of yours. "
                                "Upload the file again.")
    assert Order.objects.count() == 0
    assert confirm(manager_client, data).status_code == 302  # still the previewing user's to confirm
    assert Order.objects.count() == 4


def test_it_imports_the_previewed_file_not_another_upload_named_in_the_confirm(plans, s0, manager_client):
    first = preview(manager_client, s0, WOO.read_bytes())
    second = preview(manager_client, s0, newer_file())
    forged = {**first, "import_file_name": stored_path(second).name}
    done = confirm(manager_client, forged)
    assert done.status_code == 302 and message(done).startswith("Imported: 4 new")
    assert Order.objects.get(storefront=s0, number="5104").amount == Decimal("54.99")  # the first file's


def test_it_refuses_a_file_changed_after_the_preview(plans, s0, manager_client):
    data = preview(manager_client, s0, WOO.read_bytes())
    stored_path(data).write_bytes(newer_file())
    refused = confirm(manager_client, data)
    assert message(refused) == "Nothing imported: the uploaded file changed after the preview. Upload it again."
    assert Order.objects.count() == 0


def test_it_refuses_a_replayed_confirm_even_with_the_file_still_there(plans, s0, manager_client):
    data = preview(manager_client, s0, WOO.read_bytes())
    path = stored_path(data)
    assert confirm(manager_client, data).status_code == 302
    # The order changes since (a newer export), then the first confirm is sent again with its file.
    newer = preview(manager_client, s0, newer_file())
    assert message(confirm(manager_client, newer)).startswith("Imported: 0 new, 1 updated")
    path.write_bytes(WOO.read_bytes())
    replay = confirm(manager_client, data)
    assert replay.status_code == 302
    assert message(replay) == "Nothing imported: this preview was already confirmed."
    assert Order.objects.get(storefront=s0, number="5104").amount == Decimal("59.99")  # not put back


def test_it_refuses_a_confirm_an_hour_after_the_preview(plans, s0, manager_client):
    from orders.models import OrderImportPreview

    data = preview(manager_client, s0, WOO.read_bytes())
    OrderImportPreview.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    refused = confirm(manager_client, data)
    assert message(refused) == "Nothing imported: the preview is more than an hour old. Upload the file again."
    assert Order.objects.count() == 0


def test_it_refuses_a_confirm_without_a_preview(plans, s0, manager_client):
    for data in ({}, {"token": "no-such-preview"}, {"token": "x" * 500}):
        refused = confirm(manager_client, data)
        assert refused.status_code == 302 and message(refused).startswith("Nothing imported: ")
    assert Order.objects.count() == 0


def test_it_refuses_the_confirm_to_an_agent(plans, s0, manager_client, agent_client):
    data = preview(manager_client, s0, WOO.read_bytes())
    assert confirm(agent_client, data).status_code == 403
    assert Order.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_imports_once_when_one_confirm_is_sent_several_times_at_once(plans, s0, manager):
    from tests.conftest import race

    client = client_for(manager)
    data = preview(client, s0, WOO.read_bytes())
    pages, _ = race(lambda i: confirm(client_for(manager), data), threads=4)
    said = sorted(message(page) for page in pages)
    assert said[0].startswith("Imported: 4 new")
    assert said[1:] == ["Nothing imported: this preview was already confirmed."] * 3
    assert Order.objects.filter(storefront=s0).count() == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_answers_two_previews_of_one_file_confirmed_at_once_without_a_crash(plans, s0, manager, manager2):
    """Each confirm is its own preview's; the one that loses the race to the same new orders is told."""
    from tests.conftest import race

    people = [manager, manager2]
    previews = [preview(client_for(person), s0, WOO.read_bytes()) for person in people]
    pages, _ = race(lambda i: confirm(client_for(people[i]), previews[i]), threads=2)
    said = [message(page) for page in pages]
    assert all(page.status_code == 302 for page in pages)
    assert any(text.startswith("Imported: 4 new") for text in said), said
    assert all(text.startswith(("Imported: ", "Nothing imported: ")) for text in said), said
    assert Order.objects.filter(storefront=s0).count() == 4


def test_it_refuses_a_confirm_whose_stored_file_is_gone(plans, s0, manager_client):
    data = preview(manager_client, s0, WOO.read_bytes())
    stored_path(data).unlink()
    refused = confirm(manager_client, data)
    assert message(refused) == "Nothing imported: the uploaded file is no longer there. Upload it again."
    assert Order.objects.count() == 0
