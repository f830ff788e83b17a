"""The one table of staff transitions drives the page's buttons, the forms and the services run."""

from __future__ import annotations

from cases.admin.case_page import SYSTEM_TRANSITION_LABELS
from cases.admin.transitions import STAFF_TRANSITIONS
from cases.models import RefundCase
from tests.admin.conftest import case_url, client_for, open_case


def _fsm_transitions() -> set[str]:
    return {t.name for t in RefundCase._meta.get_field("state").get_all_transitions(RefundCase)}


def test_it_describes_every_fsm_transition_once_staff_or_system():
    names = [t.name for t in STAFF_TRANSITIONS]
    assert len(names) == len(set(names))
    assert set(names) | set(SYSTEM_TRANSITION_LABELS) == _fsm_transitions()


def test_it_builds_the_case_page_buttons_from_the_table(s0, agent):
    case = open_case(s0, reason="other")
    response = client_for(agent).get(case_url(case))
    rows = {t.name: t for t in STAFF_TRANSITIONS}
    for card in response.context["actions"]:
        row = rows[card.option.name]
        assert card.option.label == row.label and card.style == row.style
        assert isinstance(card.form, row.form)
    shown = [o.name for o in response.context["blocked"] + response.context["not_in_state"]]
    shown += [c.option.name for c in response.context["actions"]]
    assert sorted(shown) == sorted(rows)
