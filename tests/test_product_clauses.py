"""Clauses the product honours by what it offers, not by a decision: and a guard that every clause
of the shipped policies is exercised somewhere in this suite."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps

from cases import services
from cases.models import RefundCase
from cases.states import Channel
from core.errors import CaseActionError, Code
from policies.models import Clause
from tests.conftest import at, make_order

TESTS = Path(__file__).resolve().parent
CLAUSE_ID = re.compile(r"(H|S[0-9]+)-[A-Z0-9-]+")


def transition_names() -> set[str]:
    return {t.name for t in RefundCase._meta.get_field("state").get_all_transitions(RefundCase)}


@pytest.mark.clause("S0-NO-ACCELERATE")
def test_it_offers_no_way_to_expedite_a_refund():
    """S0-NO-ACCELERATE: no 'expedite' action exists, whoever asks."""
    assert not {name for name in transition_names() if re.search(r"expedit|accelerat|rush|speed", name)}
    assert not [name for name in dir(services) if re.search(r"expedit|accelerat", name)]


@pytest.mark.clause("S0-NO-ACCELERATE", "S0-ARRIVAL")
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
    assert "Card refunds take 20–31 business days, up to 90; processor refunds 20–90 business days" in paid
    assert "We cannot accelerate the processor" in paid


@pytest.mark.clause("S1-CONTACT")
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


@pytest.mark.clause("S1-DIGITAL")
def test_it_has_no_return_or_shipping_fields_anywhere():
    """S1-DIGITAL: digital services only, so nothing to ship back or exchange."""
    ours = [m for m in apps.get_models() if m._meta.app_label in {"orders", "policies", "cases"}]
    fields = {f"{m._meta.label}.{f.name}" for m in ours for f in m._meta.get_fields()}
    assert ours
    assert not [f for f in fields if re.search(r"ship|return|exchange|address|tracking|parcel", f, re.I)]


def _marker_ids(node: ast.AST) -> set[str]:
    """Clause IDs in ``pytest.mark.clause(...)`` calls under ``node``."""
    return {
        arg.value
        for call in ast.walk(node)
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "clause"
        for arg in call.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }


def _names_clauses(node: ast.AST) -> bool:
    return any(
        (isinstance(n, ast.Attribute) and n.attr in {"clauses", "clause"})
        or (isinstance(n, ast.Name) and n.id in {"clauses", "clause"})
        or (isinstance(n, ast.Constant) and n.value in {"clauses", "clause"})
        for n in ast.walk(node)
    )


def _asserted_ids(node: ast.AST) -> set[str]:
    """Clause-ID strings inside assertions about a decision's (or event's) clauses."""
    return {
        c.value
        for check in ast.walk(node)
        if isinstance(check, ast.Assert) and _names_clauses(check.test)
        for c in ast.walk(check.test)
        if isinstance(c, ast.Constant) and isinstance(c.value, str) and CLAUSE_ID.fullmatch(c.value)
    }


def cited_clause_ids(source: str) -> set[str]:
    """What a test module proves: clause markers on its tests (or module) and assertions on clauses.

    Comments and docstrings do not count: they can claim a clause without exercising it.
    """
    tree = ast.parse(source)
    return _marker_ids(tree) | _asserted_ids(tree)


def test_it_does_not_count_a_clause_named_only_in_a_comment_or_docstring():
    source = '''
def test_something():
    """S0-WINDOW is honoured."""
    # S1-PERIOD too
    assert "S1-VERIFY" != "x"
'''
    assert cited_clause_ids(source) == set()


def test_it_counts_markers_and_assertions_on_the_decisions_clauses():
    source = '''
pytestmark = pytest.mark.clause("S0-REQUEST")

@pytest.mark.clause("S0-WINDOW", "H-CAP")
def test_something(case):
    assert case.decision["clauses"] == ["S1-PERIOD"]
    assert "S1-VERIFY" in decision.clauses
'''
    assert cited_clause_ids(source) == {"S0-REQUEST", "S0-WINDOW", "H-CAP", "S1-PERIOD", "S1-VERIFY"}


@pytest.mark.django_db
def test_it_exercises_every_clause_of_the_shipped_policies():
    """Each clause ID of the shipped policies is cited by a marker or an assertion in some test."""
    cited: set[str] = set()
    for path in TESTS.rglob("*.py"):
        cited |= cited_clause_ids(path.read_text(encoding="utf-8"))
    clause_ids = list(Clause.objects.values_list("clause_id", flat=True))
    assert len(clause_ids) == 30
    assert [c for c in clause_ids if c not in cited] == []
    markers = set().union(*(_marker_ids(ast.parse(p.read_text(encoding="utf-8"))) for p in TESTS.rglob("*.py")))
    assert sorted(markers - set(clause_ids)) == []  # a typo in a marker cites nothing
