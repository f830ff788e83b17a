"""Requests for one order sent at the same moment (two tabs, a retried POST) open one case."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cases.models import RefundCase
from orders.models import Storefront
from portal.models import PortalSubmission
from portal.services import portal_request
from portal.submissions import handle_submission
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



@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_handles_a_submission_while_another_transaction_holds_its_shop(s0):
    """Two workers handle two submissions of one storefront at once: neither skips its own as if taken.

    The other worker used to hold the storefront's row (FOR UPDATE took the joined row too); any
    transaction holding it stands in for that worker here.
    """
    order = recent_order(s0)
    submission = PortalSubmission.objects.create(
        storefront=s0, kind=PortalSubmission.Kind.REQUEST, order_number=order.number,
        email=order.customer.email, reason="other", created_at=timezone.now(),
    )
    holding, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                Storefront.objects.select_for_update(no_key=True).get(pk=s0.pk)
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(10)
        assert handle_submission(submission.pk) is True
    finally:
        release.set()
        thread.join()
    assert RefundCase.objects.filter(order=order).count() == 1
    assert not PortalSubmission.objects.exists()
