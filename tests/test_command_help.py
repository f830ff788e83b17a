"""Every option of every command of ours says what it does in ``--help``."""

from __future__ import annotations

import pytest
from django.core.management import get_commands, load_command_class

OUR_APPS = ("backoffice", "cases", "orders", "policies", "reports", "shop")
COMMANDS = sorted((name, app) for name, app in get_commands().items() if app in OUR_APPS)


def test_it_finds_our_commands():
    assert {"export_cases", "import_orders", "backtest_policy", "seed_demo"} <= {name for name, _ in COMMANDS}


@pytest.mark.parametrize(("name", "app"), COMMANDS, ids=[name for name, _ in COMMANDS])
def test_it_gives_every_option_help_text(name, app):
    command = load_command_class(app, name)
    parser = command.create_parser("manage.py", name)
    silent = [action.option_strings or [action.dest] for action in parser._actions if not (action.help or "").strip()]
    assert command.help.strip(), f"{name} has no help"
    assert silent == [], f"{name}: options without help: {silent}"
