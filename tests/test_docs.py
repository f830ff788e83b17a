"""The repository stands alone: its README and docs never send a reader outside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policies.models import Clause
from rules.engine import REASONS

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_it_never_points_the_reader_outside_the_repository():
    outside = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in DOCS
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.search(r"\.\./|\bshared/|CLAUSES\.md|SIMULATOR\.md", line)
    ]
    assert len(DOCS) > 3
    assert outside == []


@pytest.mark.django_db
def test_it_documents_every_clause_in_the_repository():
    text = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| ((?:S[01]|H)-[A-Z0-9-]+) \|", text, re.M)}
    assert rows == set(Clause.objects.values_list("clause_id", flat=True))


def test_it_documents_the_simulators_contract():
    text = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    assert "simulate_refund" in text
    assert all(f"`{reason}`" in text for reason in REASONS)
    for key in ("storefront", "outage_hours", "as_of", "refund_amount", "policy_version", "arrival_business_days"):
        assert f"| `{key}` |" in text


DOC_PATH = re.compile(r"\bdocs/[A-Za-z0-9_./-]*[A-Za-z0-9_-]")
NAMING = [path for folder in ("templates", "backoffice", "cases", "orders", "policies", "reports", "shop")
          for path in sorted((ROOT / folder).rglob("*")) if path.suffix in (".html", ".txt", ".py")]


def _exists(named: str) -> bool:
    """``docs/x.md`` exists, or ``docs/decisions/0027`` names the decision record that starts so."""
    path = ROOT / named
    return path.exists() or any(path.parent.glob(path.name + "-*.md"))


def test_it_names_only_docs_files_that_exist_on_pages_and_in_code():
    missing = [f"{path.relative_to(ROOT)}: {named}" for path in NAMING
               for named in DOC_PATH.findall(path.read_text(encoding="utf-8")) if not _exists(named)]
    assert len(NAMING) > 50
    assert missing == []
