"""The policy simulator (SIMULATOR.md): JSON facts in, JSON decisions out, nothing written."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from policies.facts_json import FactsError, parse_facts
from policies.selectors import NoPolicy, decide_for_storefront


def simulate_one(item: Any, *, now: datetime) -> dict:
    try:
        facts = parse_facts(item, now=now)
        slug = item.get("storefront")
        if not isinstance(slug, str) or not slug:
            raise FactsError("storefront: is required")
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
    if not isinstance(payload, (dict, list)):
        return {"error": "input: expected a JSON object or an array of objects"}, False
    return simulate(payload, now=now)
