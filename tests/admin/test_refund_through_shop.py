"""The case page of a case whose refund goes out through a shop: sent, waiting, then paid or refused."""

from __future__ import annotations

import pytest

from cases import services
from cases.models import RefundRequest
from tests.admin.conftest import act_url, case_url, client_for, messages_of, open_case
from tests.cases.refund_channel import ScriptedShop


@pytest.fixture
def shop():
    with ScriptedShop(label="WooCommerce") as channel:
        yield channel


def approved(storefront, approver, shop: ScriptedShop, **order_kwargs):
    case = open_case(storefront, reason="other", order_kwargs=order_kwargs or None)
    shop.orders.add(case.order_id)
    return services.case_approve(case=case, actor=approver)


def pay(client, case, data: dict | None = None):
    payload = {"pay-expected_state": "approved", "pay-method": "card"}
    payload.update({f"pay-{key}": value for key, value in (data or {}).items()})
    return client.post(act_url(case, "pay"), payload, follow=True)


def section(page: str, marker: str) -> str:
    start = page.index(marker)
    return page[start:page.index("</section>", start)]


def test_it_sends_the_refund_without_a_reference_and_shows_it_waiting(s0, agent, manager, shop):
    case = approved(s0, agent, shop, amount="42.50")
    client = client_for(manager)

    page = client.get(case_url(case)).content.decode()
    form = page[page.index('data-action="pay"'):]
    form = form[:form.index("</form>")]
    assert "Send the refund through WooCommerce" in form
    assert "leave this empty, the shop&#x27;s refund ID becomes the reference" in form

    response = pay(client, case)

    assert messages_of(response) == [
        f"Refund sent, waiting for the shop: case {case.number} stays approved until the shop confirms the refund, "
        "and is then marked paid."]
    page = response.content.decode()
    assert 'id="refund-waiting">Refund sent, waiting for the shop</span>' in page
    assert 'id="case-state">Approved</span>' in page
    card = section(page, 'id="refund"')
    assert "Refund sent, waiting for the shop" in card and "42.50 USD was sent to WooCommerce" in card
    actions = section(page, 'id="actions"')
    assert 'data-action="pay"' not in actions.split('id="blocked-actions"')[0]
    blocked = actions[actions.index('id="blocked-actions"'):]
    assert blocked.count("Refund sent, waiting for the shop (WooCommerce)") == 2  # pay and withdraw

    request = RefundRequest.objects.get(case=case)
    services.refund_request_confirm(request=request, shop_refund_id="wc-701")

    page = client.get(case_url(case)).content.decode()
    assert 'id="case-state">Paid</span>' in page
    assert "refund-waiting" not in page
    assert "Refund confirmed by the shop" in section(page, 'id="refund"')
    assert '<dd class="rb-mono">wc-701</dd>' in section(page, 'id="payout"')


def test_it_shows_the_shops_refusal_and_offers_pay_again(s0, agent, manager, shop):
    case = approved(s0, agent, shop)
    client = client_for(manager)
    pay(client, case)
    services.refund_request_fail(request=RefundRequest.objects.get(case=case),
                                 message="Refund amount must be greater than zero.")

    page = client.get(case_url(case)).content.decode()

    card = section(page, 'id="refund"')
    assert "The shop refused the refund" in card
    assert "Refund amount must be greater than zero." in card
    assert "The shop refused the refund: Refund amount must be greater than zero." in page  # the flag
    assert 'data-action="pay"' in section(page, 'id="actions"').split('id="blocked-actions"')[0]


def test_it_asks_for_a_reference_when_the_shop_cannot_return_the_money(s0, agent, manager, shop):
    case = approved(s0, agent, shop, payment_method="crypto")
    client = client_for(manager)

    response = pay(client, case, {"method": "crypto"})

    assert messages_of(response) == ["Payout reference: The payout reference is required."]
    assert not RefundRequest.objects.exists()
    response = pay(client, case, {"method": "crypto", "reference": "tx-0x9f"})
    assert RefundRequest.objects.get(case=case).reference == "tx-0x9f"
