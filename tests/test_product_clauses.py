"""Clauses the product honours by what it offers, not by a decision: and a guard that every clause
of the shipped policies is exercised somewhere in this suite."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.apps import apps

from cases import services
from cases.errors import CaseActionError, Code
from cases.models import RefundCase
from cases.states import Channel
from policies.models import Clause
from tests.conftest import at, make_order

TESTS = Path(__file__).resolve().parent


def transition_names() -> set[str]:
    return {t.name for t in RefundCase._meta.get_field("state").get_all_transitions(RefundCase)}


def test_it_offers_no_way_to_expedite_a_refund():
    """S0-NO-ACCELERATE: no 'expedite' action exists, whoever asks."""
    assert not {name for name in transition_names() if re.search(r"expedit|accelerat|rush|speed", name)}
    assert not [name for name in dir(services) if re.search(r"expedit|accelerat", name)]


def test_it_tells_the_customer_the_window_and_that_it_cannot_be_sped_up(
    s0, agent, manager, mailoutbox, django_capture_on_commit_callbacks
):
    """S0-NO-ACCELERATE and S0-ARRIVAL in the paid e-mail: the window, the worst case, no promise to hurry."""
    order = make_order(s0, payment_method="card")
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_create(order=order, reason="other", requested_at=at("2026-01-02 09:00"),
                                    now=at("2026-01-02 09:00"))
        case = services.case_approve(case=case, actor=agent, now=at("2026-01-02 10:00"))
        services.case_pay(case=case, actor=manager, reference="re_9", now=at("2026-01-05 10:00"))
    paid = mailoutbox[-1].body
    assert "within 20 to 31 business days" in paid
    assert "up to 90 business days" in paid
    assert "not able to speed it up" in paid


def test_it_takes_requests_from_the_published_channels_only(s1, agent):
    """S1-CONTACT: portal, WhatsApp (entered by an agent), e-mail, and staff entry."""
    assert set(Channel.values) == {"portal", "whatsapp", "email", "admin"}
    order = make_order(s1)
    case = services.case_create(order=order, reason="technical_issue", channel="whatsapp", actor=agent,
                                requested_at=at("2026-01-02 09:00"), now=at("2026-01-02 09:00"))
    assert case.channel == "whatsapp"
    assert case.events.get().data["channel"] == "whatsapp"

    other = make_order(s1)
    with pytest.raises(CaseActionError) as refused:
        services.case_create(order=other, reason="other", channel="telegram", requested_at=at("2026-01-02 09:00"),
                             now=at("2026-01-02 09:00"))
    assert refused.value.code == Code.INVALID_INPUT
    assert not RefundCase.objects.filter(order=other).exists()


def test_it_has_no_return_or_shipping_fields_anywhere():
    """S1-DIGITAL: digital services only, so nothing to ship back or exchange."""
    ours = [m for m in apps.get_models() if m._meta.app_label in {"orders", "policies", "cases"}]
    fields = {f"{m._meta.label}.{f.name}" for m in ours for f in m._meta.get_fields()}
    assert ours
    assert not [f for f in fields if re.search(r"ship|return|exchange|address|tracking|parcel", f, re.I)]


@pytest.mark.django_db
def test_it_exercises_every_clause_of_the_shipped_policies():
    """Each clause ID of CLAUSES.md is named by at least one test (this guard names none itself)."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in TESTS.rglob("*.py"))
    clause_ids = list(Clause.objects.values_list("clause_id", flat=True))
    assert len(clause_ids) == 30
    assert [c for c in clause_ids if not re.search(rf"{re.escape(c)}\b", text)] == []
