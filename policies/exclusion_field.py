"""Exclusions edited as a list of reasons to tick, each citing the clause of its policy that excludes it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from rules.engine import REASON_LABELS

# The clause that excludes each reason, per policy text (CLAUSES.md): file 000 names one per reason,
# file 001 has one list for every reason.
EXCLUDING_CLAUSES: dict[str, dict[str, str] | str] = {
    "S0": {"setup_difficulty": "S0-NO-SETUP", "intermittent_streams": "S0-NO-INTERMITTENT",
           "changed_mind": "S0-NO-CHANGE", "server_switch": "S0-NO-CHANGE", "adult_channels_missing": "S0-NO-ADULT"},
    "S1": "S1-NOT-ELIGIBLE",
}
# Reasons no policy text excludes: a charge taken twice is always refunded (H-DUPLICATE).
NEVER_EXCLUDED = {"duplicate_payment"}


def excluding_clause(code: str, reason: str, current: dict) -> str | None:
    if reason in current:
        return current[reason]
    clauses = EXCLUDING_CLAUSES.get(code)
    return clauses if isinstance(clauses, str) else (clauses or {}).get(reason)


class ExclusionsForm(forms.ModelForm):
    """The version's (or draft's) form with its exclusions as ticked reasons instead of a JSON object."""

    exclusions = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(r, label) for r, label in REASON_LABELS.items() if r not in NEVER_EXCLUDED],
        help_text="The reasons this version never refunds; each cites the clause of the policy that excludes it.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        initial = self.initial.get("exclusions")
        if isinstance(initial, dict):
            self.initial["exclusions"] = list(initial)

    def clean_exclusions(self) -> dict[str, str]:
        current = dict(getattr(self.instance, "exclusions", None) or {})
        code = self.cleaned_data.get("code") or getattr(self.instance, "code", "")
        chosen, missing = {}, []
        for reason in self.cleaned_data.get("exclusions") or []:
            clause = excluding_clause(code, reason, current)
            if clause:
                chosen[reason] = clause
            else:
                missing.append(REASON_LABELS[reason])
        if missing:
            raise ValidationError(f"No clause of this policy excludes: {', '.join(missing)}. Untick it, or add the "
                                  f"clause to the policy text first.")
        return chosen
