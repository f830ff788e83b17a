"""The state machine's transitions are called in one place, which judges their conditions at a given moment."""

from __future__ import annotations

import ast
from pathlib import Path

from cases.models import RefundCase

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["backoffice", "core", "rules", "orders", "policies", "cases", "portal", "mail", "reports", "shop"]
CORE = ROOT / "cases" / "services" / "base.py"


def _transition_names() -> set[str]:
    field = RefundCase._meta.get_field("state")
    return {transition.name for transition in field.get_all_transitions(RefundCase)}


def test_it_calls_transition_methods_only_from_the_transition_core():
    names = _transition_names()
    assert names, "the case has transitions"
    callers = []
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path == CORE:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                called = node.func if isinstance(node, ast.Call) else None
                # ``list.extend(items)`` shares a name with the transition, which takes no argument.
                if called is None or (called.attr if isinstance(called, ast.Attribute) else None) == "extend" \
                        and len(node.args) == 1:
                    continue
                if isinstance(called, ast.Attribute) and called.attr in names:
                    callers.append(f"{path.relative_to(ROOT)}:{node.lineno} .{called.attr}()")
    # Anywhere else, the conditions (judged by the core at its ``now``) would be skipped.
    assert callers == []
