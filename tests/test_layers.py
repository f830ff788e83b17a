"""The import-linter contracts in pyproject.toml, run on a copy of the code: kept as it is, broken by an upward import."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["root_packages"]


def _copy(tmp_path: Path) -> Path:
    for package in _packages():
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(where: Path) -> subprocess.CompletedProcess:
    # The copy must be what is read, not the installed tree: the path is the copy and nothing else.
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=where, capture_output=True, text=True,
                          env={"PYTHONPATH": str(where), "PATH": ""}, timeout=120)


@pytest.fixture(scope="module")
def code(tmp_path_factory) -> Path:
    if not LINT_IMPORTS.exists():
        pytest.skip("import-linter is not installed (make install)")
    return _copy(tmp_path_factory.mktemp("layers"))


def test_it_keeps_the_contracts_on_the_code_as_it_is(code: Path):
    result = _lint(code)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("orders/services.py", "from cases import models", "orders is not allowed to import cases"),
    ("rules/engine.py", "from policies import selectors", "rules is not allowed to import policies"),
    ("core/errors.py", "import orders.models", "core is not allowed to import orders"),
    # Hidden inside a function, where it would not fail at import time, it is still an upward import.
    ("cases/events.py", "def _later():\n    from portal import views", "cases is not allowed to import portal"),
    ("portal/views.py", "from reports import services", "portal is not allowed to import reports"),
])
def test_it_fails_on_an_upward_or_sideways_import(code: Path, tmp_path: Path, module: str, line: str, broken: str):
    copy = _copy(tmp_path)
    with (copy / module).open("a") as source:
        source.write(f"\n\n{line}\n")
    result = _lint(copy)
    assert result.returncode != 0
    assert broken in result.stdout
