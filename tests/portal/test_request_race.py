"""Requests for one order sent at the same moment (two tabs, a retried POST) open one case."""

from __future__ import annotations

import pytest

from cases.models import RefundCase
from cases.portal.services import portal_request
from tests.conftest import race
from tests.portal.conftest import recent_order


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_opens_one_case_for_requests_sent_at_once(s0):
    order = recent_order(s0)

    def ask(i: int):
        return portal_request(storefront=s0, order_number=order.number, email=order.customer.email,
                              reason="other", description=f"try {i}")

    done, refused = race(ask, threads=6)
    assert refused == []
    assert RefundCase.objects.filter(order=order).count() == 1
    assert sum(outcome.opened for outcome in done) == 1
