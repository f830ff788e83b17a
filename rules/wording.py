"""Clause texts and policy texts as templates over their version's rules (docs/policies.md).

A text never states a number of hours or days, or an exclusion, by itself: it names the rule
(``{{ window_hours }}``, ``{% if excludes.changed_mind %}``) and is rendered from the version that
applies wherever it is shown, so a draft that changes a rule changes its text with it. The check
below refuses a text that still states a number or an exclusion the rules no longer have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.template import Context, Engine, TemplateSyntaxError

from rules.engine import REASON_LABELS, Policy

# Its own engine: no loaders, no tag libraries to load, nothing escaped (the pages escape what they show).
_ENGINE = Engine(autoescape=False, string_if_invalid="\x00%s\x00", libraries={})
_INVALID = re.compile("\x00([^\x00]*)\x00")

# The names a text may use, and what each says (shown in the admin's help and in docs/policies.md).
NAMES = {
    "window_hours": "hours after purchase within which a refund is full (S0-WINDOW)",
    "fix_hours": "hours the team has to fix a technical issue (S0-FIX-48H)",
    "outage_hours": "hours without access after which an outage is refunded (S0-OUTAGE)",
    "card_min_days": "business days a card refund usually takes, at least (ARRIVAL)",
    "card_max_days": "business days a card refund usually takes, at most (ARRIVAL)",
    "card_worst_days": "business days a card refund can take at worst (ARRIVAL)",
    "other_min_days": "business days other refunds usually take, at least (ARRIVAL)",
    "other_max_days": "business days other refunds usually take, at most (ARRIVAL)",
    "other_worst_days": "business days other refunds can take at worst (ARRIVAL)",
    "excludes": "the excluded reasons, e.g. {% if excludes.changed_mind %}…{% endif %}",
    "exclusions": "the excluded reasons in words, e.g. {% for reason in exclusions %}…{% endfor %}",
}

# How each excluded reason is recognised in a text that lists it.
EXCLUSION_PHRASES = {
    "setup_difficulty": ("set up their own device", "set up your own device"),
    "intermittent_streams": ("freeze, buffer",),
    "changed_mind": ("changes their mind", "change your mind", "changed your mind"),
    "server_switch": ("switch servers",),
    "adult_channels_missing": ("adult channels",),
}

# A number a rule put in the text is marked while checking, so that only numbers typed by hand are read.
_MARK = "\x03"
_HOURS = re.compile(r"(?<![\d\x03])(\d+)\s*(?:hours?|h)\b")
_DAYS = re.compile(r"(?:\b(\d+)|\x03)(?:\s*(?:to|and|–|-)\s*(?:(\d+)|\x03))?\s+(?:business\s+)?days?\b")


class TextError(ValueError):
    """A text that cannot be rendered; the message says why, in words."""


def context_for(policy: Policy, *, marked: bool = False) -> dict:
    excluded = {reason: True for reason in policy.exclusions}
    values = {
        "window_hours": policy.full_refund_window_hours,
        "fix_hours": policy.fix_window_hours,
        "outage_hours": policy.outage_guarantee_hours,
        "card_min_days": policy.arrival_card.min,
        "card_max_days": policy.arrival_card.max,
        "card_worst_days": policy.arrival_card.worst,
        "other_min_days": policy.arrival_other.min,
        "other_max_days": policy.arrival_other.max,
        "other_worst_days": policy.arrival_other.worst,
        "excludes": excluded,
        "exclusions": [REASON_LABELS[r] for r in REASON_LABELS if r in excluded],
    }
    # A rule the version does not have is left out, so that a text naming it is refused, not "None".
    return {name: _MARK if marked and isinstance(value, int) else value
            for name, value in values.items() if value is not None}


def render(text: str, policy: Policy, *, marked: bool = False) -> str:
    """``text`` with ``policy``'s rules in it; TextError names a broken tag or an unknown name."""
    try:
        template = _ENGINE.from_string(text or "")
    except TemplateSyntaxError as error:
        raise TextError(f"The text cannot be read as a template: {error}.") from None
    rendered = template.render(Context(context_for(policy, marked=marked)))
    unknown = sorted({name for name in _INVALID.findall(rendered) if name})
    if unknown or "\x00" in rendered:
        raise TextError(
            f"The text uses a name that is not a rule of the policy: {', '.join(unknown) or 'an empty one'}. "
            f"The names are: {', '.join(n for n in NAMES if n not in ('excludes', 'exclusions'))}, "
            f"excludes.<reason> and exclusions."
        )
    return rendered


_CODE = re.compile(r"`(\w+)`")


def plain(text: str) -> str:
    """A reason code the clause texts quote (`technical_issue`) as people read it (“Technical issue”)."""
    return _CODE.sub(lambda m: f"“{REASON_LABELS[m[1]]}”" if m[1] in REASON_LABELS else m[0], text)


def render_or_blank(text: str, policy: Policy) -> str:
    """For pages: a stored text that no longer renders shows nothing rather than a broken page."""
    try:
        return plain(render(text, policy))
    except TextError:
        return ""


@dataclass(frozen=True)
class Stated:
    """Which rule a number in a text can only be, and that rule's clause."""

    name: str
    value: int | None
    clause: str


def _hour_rules(policy: Policy) -> list[Stated]:
    return [Stated("window_hours", policy.full_refund_window_hours, policy.clause("WINDOW")),
            Stated("fix_hours", policy.fix_window_hours, policy.clause("FIX-48H")),
            Stated("outage_hours", policy.outage_guarantee_hours, policy.clause("OUTAGE"))]


def _day_rules(policy: Policy) -> list[Stated]:
    arrival = policy.clause("ARRIVAL")
    return [Stated(f"{kind}_{part}_days", getattr(window, part), arrival)
            for kind, window in (("card", policy.arrival_card), ("other", policy.arrival_other))
            for part in ("min", "max", "worst")]


def _sentence(text: str, start: int, end: int) -> str:
    left = max(text.rfind(".", 0, start), text.rfind("\n", 0, start)) + 1
    right = min([i for i in (text.find(".", end), text.find("\n", end)) if i != -1] or [len(text)])
    return " ".join(text[left:right].replace(_MARK, "…").split())


def disagreements(text: str, policy: Policy, *, base: Policy | None = None, where: str = "The policy text",
                  clause: str | None = None) -> list[str]:
    """What ``text`` still states that ``policy``'s rules no longer have, one plain sentence each.

    A number of hours or days typed by hand is refused when it is what a rule said in ``base`` (the
    version the rules were changed from) and that rule now says otherwise; an exclusion is refused
    when the text lists it and the rules no longer have it. ``clause``: the clause the text is, if one.
    """
    problems = []
    rendered, marked = render(text, policy), render(text, policy, marked=True)
    for pattern, rules, unit in ((_HOURS, _hour_rules, "hours"), (_DAYS, _day_rules, "days")):
        if base is None:
            break
        old = {rule.name: rule.value for rule in rules(base)}
        for match in pattern.finditer(marked):
            for number in (int(n) for n in match.groups() if n):
                stale = [r for r in rules(policy) if old.get(r.name) == number and r.value != number]
                if not stale:
                    continue
                now = "; ".join(dict.fromkeys(f"{clause or r.clause} now says {r.value} {unit}" for r in stale))
                problems.append(
                    f"{where} still says “{number} {unit}” (“{_sentence(marked, *match.span())}”), but {now}. "
                    f"Write the number as {' or '.join('{{ ' + r.name + ' }}' for r in stale)} so that the text "
                    f"follows the rule."
                )
    lowered = rendered.lower()
    for reason, phrases in EXCLUSION_PHRASES.items():
        if reason in policy.exclusions:
            continue
        found = next((p for p in phrases if p in lowered), None)
        if found is not None:
            cited = clause or (base.exclusions.get(reason) if base else None) or "its exclusion clause"
            problems.append(
                f"{where} still lists “{found}” as not refunded ({cited}), but this version no longer excludes "
                f"“{REASON_LABELS[reason]}”. Remove it from the text, or keep it only inside "
                f"{{% if excludes.{reason} %}}…{{% endif %}}."
            )
    return problems
