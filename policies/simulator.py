"""The policy simulator (docs/simulator.md): JSON facts in, JSON decisions out, nothing written."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from policies.facts_json import FactsError, parse_facts
from policies.selectors import NoPolicy, decide_for_storefront

SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}")


def simulate_one(item: Any, *, now: datetime) -> dict:
    try:
        facts = parse_facts(item, now=now)
        slug = item.get("storefront")
        if slug is None or slug == "":
            raise FactsError("storefront: is required")
        # Checked before the query: PostgreSQL rejects some strings (NUL bytes) with a database error.
        if not isinstance(slug, str) or not SLUG.fullmatch(slug):
            raise FactsError(f"storefront: unknown storefront {slug!r}")
        return decide_for_storefront(slug=slug, facts=facts).as_dict()
    except (FactsError, NoPolicy) as error:
        return {"error": str(error)}


def simulate(payload: Any, *, now: datetime) -> tuple[Any, bool]:
    """Decisions in the shape of ``payload`` (object or array) and whether every item was valid."""
    if isinstance(payload, list):
        results = [simulate_one(item, now=now) for item in payload]
        return results, all("error" not in r for r in results)
    result = simulate_one(payload, now=now)
    return result, "error" not in result


def simulate_text(text: str, *, now: datetime) -> tuple[Any, bool]:
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        return {"error": f"input: not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"}, False
    except (ValueError, RecursionError) as error:  # over-long integers, absurd nesting
        return {"error": f"input: not usable JSON ({error})"}, False
    if not isinstance(payload, (dict, list)):
        return {"error": "input: expected a JSON object or an array of objects"}, False
    return simulate(payload, now=now)
