"""The managers' disputes queue: open disputes, nearest evidence deadline first, overdue ones marked."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.services.chargebacks import chargeback_record, dispute_close, dispute_record
from orders.models import Chargeback
from tests.admin.conftest import client_for
from tests.conftest import make_order

QUEUE = reverse("admin:orders_chargeback_changelist") + "?dispute=open"


def open_dispute(storefront, n: int, *, due_in: timedelta | None, reason: str = "fraudulent") -> Chargeback:
    now = timezone.now()
    order = make_order(storefront, purchased_at=now - timedelta(days=10))
    return dispute_record(order=order, dispute_id=f"dp_{n}", amount=Decimal("20.00"), currency="usd",
                          reason=reason, due_by=now + due_in if due_in is not None else None,
                          opened_at=now - timedelta(days=1))


def rows(response) -> list[str]:
    """The queue's rows as dispute IDs, in the order shown."""
    return re.findall(r'class="field-processor_reference">(dp_\d+)<', response.content.decode())


def test_it_lists_open_disputes_nearest_evidence_deadline_first_and_marks_the_overdue(s1, manager):
    later = open_dispute(s1, 1, due_in=timedelta(days=9))
    no_deadline = open_dispute(s1, 2, due_in=None)
    overdue = open_dispute(s1, 3, due_in=-timedelta(hours=2), reason="product_not_received")
    soon = open_dispute(s1, 4, due_in=timedelta(days=1), reason="subscription_canceled")
    closed = open_dispute(s1, 5, due_in=timedelta(hours=1))
    dispute_close(dispute_id=closed.dispute_id, won=True)
    chargeback_record(order=make_order(s1, purchased_at=timezone.now() - timedelta(days=3)), actor=manager,
                      amount="5.00", opened_at=timezone.now() - timedelta(days=1), processor_reference="typed_1")

    response = client_for(manager).get(QUEUE)

    assert response.status_code == 200
    assert rows(response) == [overdue.dispute_id, soon.dispute_id, later.dispute_id, no_deadline.dispute_id]
    page = response.content.decode()
    assert "column-due_column sorted ascending" in page and "column-opened_at sorted" not in page
    assert page.count('class="rb-overdue"') == 1
    assert "The customer says they never received what they paid for" in page
    assert "The customer says they cancelled the subscription before this charge" in page
    assert "20.00 USD" in page
    for code in ("product_not_received", "subscription_canceled", "fraudulent"):
        assert f">{code}<" not in page and f" {code} " not in page


def test_it_filters_closed_and_typed_in_chargebacks(s1, manager):
    won = open_dispute(s1, 1, due_in=timedelta(days=2))
    dispute_close(dispute_id=won.dispute_id, won=True)
    lost = open_dispute(s1, 2, due_in=timedelta(days=2))
    dispute_close(dispute_id=lost.dispute_id, won="lost")
    open_dispute(s1, 3, due_in=timedelta(days=2))
    client = client_for(manager)
    changelist = reverse("admin:orders_chargeback_changelist")

    assert rows(client.get(changelist + "?dispute=won")) == ["dp_1"]
    assert rows(client.get(changelist + "?dispute=lost")) == ["dp_2"]
    everything = client.get(changelist).content.decode()
    assert "Won, " in everything and "Lost, " in everything and "Open" in everything


def test_it_reads_the_queue_in_the_same_number_of_queries_whatever_its_length(s1, manager):
    client = client_for(manager)
    open_dispute(s1, 1, due_in=timedelta(days=1))
    client.get(QUEUE)  # the session, the content types: read once per process or per login
    with CaptureQueriesContext(connection) as few:
        assert client.get(QUEUE).status_code == 200
    for n in range(2, 22):
        open_dispute(s1, n, due_in=timedelta(days=n))
    with CaptureQueriesContext(connection) as many:
        response = client.get(QUEUE)

    assert len(rows(response)) == 21
    assert len(many) == len(few), [q["sql"] for q in many]


def test_it_shows_the_reason_in_words_on_the_dispute_page_even_for_a_code_it_does_not_know(s1, manager):
    chargeback = open_dispute(s1, 1, due_in=timedelta(days=2), reason="some_new_code")

    page = client_for(manager).get(reverse("admin:orders_chargeback_change", args=[chargeback.pk])).content.decode()

    assert "A reason the bank gave that this back office does not know yet" in page
    assert "some_new_code" not in page


def test_it_counts_open_disputes_on_the_index_for_whoever_reads_chargebacks(s1, agent, manager, outsider):
    open_dispute(s1, 1, due_in=timedelta(days=10))
    open_dispute(s1, 2, due_in=timedelta(days=12))
    closed = open_dispute(s1, 3, due_in=timedelta(days=1))
    dispute_close(dispute_id=closed.dispute_id, won=False)

    for user in (agent, manager):
        tools = {tool.label: tool for tool in client_for(user).get(reverse("admin:index")).context["tools"]}
        assert tools["Open disputes"].count == 2 and not tools["Open disputes"].alert
        assert tools["Open disputes"].url == QUEUE
    outsider_tools = client_for(outsider).get(reverse("admin:index")).context["tools"]
    assert "Open disputes" not in [tool.label for tool in outsider_tools]

    open_dispute(s1, 4, due_in=timedelta(days=2))
    tools = {tool.label: tool for tool in client_for(manager).get(reverse("admin:index")).context["tools"]}
    assert tools["Open disputes"].count == 3 and tools["Open disputes"].alert
