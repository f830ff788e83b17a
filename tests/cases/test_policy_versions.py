"""S1-VERSIONING through the cases: each case is judged by the text in force when its order was bought."""

from __future__ import annotations

import pytest

from cases import services
from core.errors import CaseActionError
from tests.conftest import at, make_order


@pytest.mark.clause("S1-NOT-ELIGIBLE")
def test_it_judges_each_case_by_the_version_of_its_purchase(s1, march_version, manager):
    """Bought in February, asked in March: the December text (discretion); bought in March: denied."""
    february = make_order(s1, purchased_at=at("2026-02-27 10:00"))
    march = make_order(s1, purchased_at=at("2026-03-15 10:00"))
    asked = at("2026-03-16 10:00")

    old = services.case_create(order=february, reason="server_switch", requested_at=asked, now=asked)
    new = services.case_create(order=march, reason="server_switch", requested_at=asked, now=asked)

    assert (old.decision["policy_version"], old.decision["outcome"]) == ("2025-12-05", "manager_discretion")
    assert (new.decision["policy_version"], new.decision["outcome"]) == ("2026-03-01", "deny")
    assert new.decision["clauses"] == ["S1-NOT-ELIGIBLE"]

    approved = services.case_approve(case=old, actor=manager, note="Server moved; goodwill.", now=asked)
    assert approved.events.get(transition="approve").decision["policy_version"] == "2025-12-05"
    with pytest.raises(CaseActionError, match="S1-NOT-ELIGIBLE"):
        services.case_approve(case=new, actor=manager, note="x", now=asked)
