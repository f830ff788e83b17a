"""The policy simulator page: "what would the policy say?" for managers (docs/simulator.md).

The form only assembles the simulator's JSON; the values are passed on as typed, so a bad value
gets exactly the error ``manage.py simulate_refund`` would print, naming the key.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django import forms
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from orders.models import Storefront
from policies.models import PolicyVersion
from policies.simulator import simulate_one, simulate_text
from policies.words import clause_lines, inline_markup, outcome_tone, outcome_words
from rules.engine import FIX_OUTCOME_LABELS, PAYMENT_METHOD_LABELS, PLAN_MONTHS, REASON_LABELS, Policy

PERMISSION = "policies.simulate_policy"
DATETIME_HELP = "ISO 8601, e.g. 2026-01-01T10:00Z; without an offset it is read as UTC."


def _text(**kwargs) -> forms.CharField:
    return forms.CharField(required=False, **kwargs)


class SimulatorForm(forms.Form):
    """Plain text fields on purpose: validation is the simulator's, not the form's."""

    storefront = _text()
    price = _text(initial="59.99")
    currency = _text(initial="USD")
    payment_method = _text(widget=forms.Select(choices=list(PAYMENT_METHOD_LABELS.items())), initial="card")
    plan_months = _text(widget=forms.Select(choices=[(m, f"{m} month{'s' if m != 1 else ''}") for m in PLAN_MONTHS]),
                        initial="3")
    devices = _text(initial="1")
    purchased_at = _text(help_text=DATETIME_HELP)
    delivered_at = _text(help_text="Empty: never delivered.")
    refunded_so_far = _text(initial="0.00")
    requested_at = _text(help_text=DATETIME_HELP)
    reason = _text(widget=forms.Select(choices=list(REASON_LABELS.items())), initial="technical_issue")
    fix_started_at = _text(label="Fix attempt started at", help_text="Empty: no fix attempt.")
    fix_outcome = _text(label="Fix attempt outcome", widget=forms.Select(
        choices=[("", "—")] + list(FIX_OUTCOME_LABELS.items())))
    outage_hours = _text(initial="0")
    as_of = _text(label="As of", help_text="When the decision is taken. Empty: now.")

    def __init__(self, *args, now: datetime, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        slugs = list(Storefront.objects.order_by("name").values_list("slug", "name"))
        self.fields["storefront"].widget = forms.Select(choices=[(slug, f"{name} ({slug})") for slug, name in slugs])
        if slugs:
            self.fields["storefront"].initial = slugs[0][0]
        stamp = "%Y-%m-%dT%H:%MZ"
        self.fields["purchased_at"].initial = (now - timedelta(days=1)).strftime(stamp)
        self.fields["delivered_at"].initial = (now - timedelta(days=1) + timedelta(minutes=5)).strftime(stamp)
        self.fields["requested_at"].initial = now.strftime(stamp)

    def to_item(self) -> dict:
        """The simulator input, in docs/simulator.md's shape."""
        data = self.cleaned_data
        item: dict = {
            "storefront": data["storefront"],
            "price": data["price"],
            "currency": data["currency"],
            "payment_method": data["payment_method"],
            "plan_months": _whole_number(data["plan_months"]),
            "devices": _whole_number(data["devices"]),
            "purchased_at": _moment(data["purchased_at"]),
            "delivered_at": _moment(data["delivered_at"]) or None,
            "requested_at": _moment(data["requested_at"]),
            "reason": data["reason"],
            "fix_attempt": None,
        }
        if data["refunded_so_far"]:
            item["refunded_so_far"] = data["refunded_so_far"]
        if data["fix_started_at"] or data["fix_outcome"]:
            item["fix_attempt"] = {"started_at": _moment(data["fix_started_at"]) or None,
                                   "outcome": data["fix_outcome"] or None}
        if data["outage_hours"]:
            item["outage_hours"] = _number(data["outage_hours"])
        if data["as_of"]:
            item["as_of"] = _moment(data["as_of"])
        return {key: (None if value == "" else value) for key, value in item.items()}


def _whole_number(text: str):
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _number(text: str):
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _moment(text: str) -> str:
    """The typed time, with ``Z`` added when it has no offset (the form's documented reading)."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return text
    return text + "Z" if parsed.tzinfo is None else text


def _explained(result: dict) -> dict:
    policy = _policy_of(result)
    return {
        "result": result,
        "outcome": outcome_words(result.get("outcome", "")),
        "tone": outcome_tone(result.get("outcome", "")),
        "explanation": inline_markup(result.get("explanation", "")),
        "clauses": clause_lines(result.get("clauses") or [], policy=policy) if policy else [],
    }


def _policy_of(result: dict) -> Policy | None:
    """The version a simulated decision applied: its label, and the code its clauses carry."""
    versions = PolicyVersion.objects.filter(version=result.get("policy_version")).select_related("storefront")
    codes = {c.split("-", 1)[0] for c in result.get("clauses") or () if not c.startswith("H-")}
    version = (versions.filter(code__in=codes) if codes else versions).first()
    return version.to_policy() if version else None


def simulator(request, *, admin_site, opts):
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied
    now = timezone.now()
    posted = request.method == "POST"
    mode = request.POST.get("mode", "form") if posted else "form"
    form = SimulatorForm(request.POST if posted and mode == "form" else None, now=now)
    raw_json = request.POST.get("raw_json", "") if posted and mode == "json" else ""
    result = None
    if posted and mode == "json":
        result, ok = simulate_text(raw_json, now=now)
    elif posted and form.is_valid():
        item = form.to_item()
        result = simulate_one(item, now=now)
        ok = "error" not in result
        raw_json = json.dumps(item, indent=2, ensure_ascii=False)
    context = {
        **admin_site.each_context(request),
        "title": "Policy simulator",
        "subtitle": "What would the policy say?",
        "opts": opts,
        "form": form,
        "raw_json": raw_json,
        "mode": mode,
        "ran": result is not None,
    }
    if result is not None:
        items = result if isinstance(result, list) else [result]
        context.update({
            "ok": ok,
            "results": [_explained(item) for item in items],
            "output_json": json.dumps(result, indent=2, ensure_ascii=False),
        })
    request.current_app = admin_site.name
    return TemplateResponse(request, "admin/policies/policyversion/simulate.html", context)
