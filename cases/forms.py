"""Staff forms of the case workplace. They only parse input; every write is a ``cases.services`` call."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.utils import timezone

from cases.models import Evidence, RefundCase
from cases.selectors import assignable_users, pay_route
from cases.services.base import MAX_NOTE_LENGTH
from cases.services.decisions import MAX_BONUS_DAYS
from cases.states import Channel, DenyReason, Reason
from orders.models import Order
from orders.pickers import use_order_picker
from policies.selectors import cited, own_clause
from rules.engine import Decision, Outcome

NOTE = forms.Textarea(attrs={"rows": 2, "cols": 40})
# Every free-text field says who reads it: what reaches the customer is chosen, never a side effect.
STAFF_ONLY = "Only staff see this."
TO_CUSTOMER = "The customer sees this on their case page and in the e-mail."
TEXT_LIMIT = {"max_length": MAX_NOTE_LENGTH}
DESCRIPTION_LIMIT = {"max_length": 10_000}
MONEY = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0.01")}

# Which denial reason the decision's clause points to, so the deny form starts on the right one.
_DENY_REASON_BY_CLAUSE = {
    "H-CAP": DenyReason.NOTHING_LEFT,
    "S0-WINDOW": DenyReason.OUTSIDE_WINDOW,
    "S0-PARTIAL": DenyReason.SERVICE_USED,
    "S1-USED-ON-DELIVERY": DenyReason.SERVICE_USED,
    "S1-DISCRETION": DenyReason.SERVICE_USED,
}


class TransitionForm(forms.Form):
    """Base of every transition form: the state the page showed, so a stale page is caught."""

    expected_state = forms.CharField(
        widget=forms.HiddenInput,
        error_messages={"required": "The form was sent without the case's state; reload the page and try again."},
    )

    def __init__(self, *args, case: RefundCase, decision: Decision, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.case = case
        self.decision = decision
        self.fields["expected_state"].initial = case.state


class NoteForm(TransitionForm):
    note = forms.CharField(required=False, widget=NOTE, **TEXT_LIMIT, label="Internal note (optional)",
                           help_text=STAFF_ONLY)


class SharedNoteForm(TransitionForm):
    """A note that stays internal unless ticked (the fix steps: staff often write for each other there)."""

    note = forms.CharField(required=False, widget=NOTE, **TEXT_LIMIT, label="Note (optional)")
    customer_visible = forms.BooleanField(
        required=False, label="Show this note to the customer",
        help_text="Ticked, the note is on their case page and in the e-mail. Otherwise only staff see it.",
    )


class CustomerNoteForm(TransitionForm):
    """The withdrawal's note: the customer is told their request was withdrawn, with these words."""

    note = forms.CharField(required=False, widget=NOTE, **TEXT_LIMIT, label="Note to the customer (optional)",
                           help_text=TO_CUSTOMER)


class ReopenForm(TransitionForm):
    note = forms.CharField(widget=NOTE, **TEXT_LIMIT, label="Why reopen (the customer's answer)",
                           help_text=STAFF_ONLY)


class ApproveForm(TransitionForm):
    amount = forms.DecimalField(**MONEY)
    note = forms.CharField(required=False, widget=NOTE, **TEXT_LIMIT, label="Internal note (optional)",
                           help_text=STAFF_ONLY)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].initial = self.decision.refund_amount
        if self.decision.refund_amount is not None:
            self.fields["amount"].help_text = (
                f"At most {self.decision.refund_amount:.2f} {self.decision.currency} "
                f"({', '.join(self.decision.clauses) or 'no clause'})."
            )
        if self.decision.outcome == Outcome.MANAGER_DISCRETION:
            self.fields["note"].required = True
            clause = own_clause(self.case.order, "DISCRETION")
            self.fields["note"].label = f"Justification (required{', ' + clause if clause else ''})"
            self.fields["note"].help_text = STAFF_ONLY


class ApproveStatutoryForm(TransitionForm):
    amount = forms.DecimalField(**MONEY)
    basis = forms.CharField(widget=NOTE, **TEXT_LIMIT, label="Legal basis (required)", help_text=STAFF_ONLY)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        remainder = self.case.order.refundable_remainder
        self.fields["amount"].initial = remainder
        self.fields["amount"].help_text = f"At most the refundable remainder, {remainder:.2f} {self.case.order.currency} (H-CAP)."


class RequestEvidenceForm(TransitionForm):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
        **TEXT_LIMIT,
        label="Message to the customer",
        help_text="The customer sees this on their case page and by e-mail from the storefront's support address.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["message"].initial = (
            "To look into your request, please send us screenshots of the problem and any error "
            "messages you see, with the device and app you use."
        )


class DenyForm(TransitionForm):
    reason = forms.ChoiceField(choices=DenyReason.choices)
    note = forms.CharField(required=False, widget=NOTE, **TEXT_LIMIT, label="Note to the customer",
                           help_text="The customer sees this on their case page as the reason for the decision.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].initial = _suggested_deny_reason(self.decision)
        if self.decision.allows_refund:
            self.fields["note"].required = True
            self.fields["note"].label = "Note to the customer (required: the policy allows a refund)"


class ExtendForm(TransitionForm):
    bonus_days = forms.IntegerField(min_value=0, max_value=MAX_BONUS_DAYS, initial=0, label="Bonus days")
    note = forms.CharField(required=False, widget=NOTE, **TEXT_LIMIT, label="Note to the customer (optional)",
                           help_text=TO_CUSTOMER)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        lost = self.decision.extension_days
        limit = self.case.order.storefront.extension_limit_days
        if lost is not None:
            self.fields["bonus_days"].help_text = (
                f"Added on top of the {lost} lost day(s), at most {MAX_BONUS_DAYS} (S0-OUTAGE). "
                f"More than {limit} days in all needs a support manager."
            )


class PayForm(TransitionForm):
    reference = forms.CharField(max_length=120, required=False, label="Payout reference",
                                help_text="The processor's refund ID.")
    method = forms.ChoiceField(choices=Order.PAYMENT_METHOD_CHOICES, label="Method")
    method_note = forms.CharField(
        required=False, widget=NOTE, **TEXT_LIMIT, label="Why another method",
        help_text="Required when the method differs from the order's. Only staff see this.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        order = self.case.order
        # The page has read the case's refund requests already; the view asks again.
        self.route = pay_route(case=self.case, requests=getattr(self.case, "known_refund_requests", None))
        self.fields["method"].initial = order.payment_method
        self.fields["method_note"].help_text = (
            f"Required when the method differs from the order's{cited(order, 'SAME-METHOD')}. "
            f"{STAFF_ONLY}")
        amount = ""
        if self.case.approved_amount is not None:
            approver = self.case.approved_by.get_username() if self.case.approved_by else "a manager"
            amount = f"Pay {self.case.approved_amount:.2f} {order.currency}, as approved by {approver}"
            self.fields["reference"].help_text = f"{amount}; then enter the processor's refund ID."
        channel = self.route.channel
        if channel is not None and self.route.api_refund:
            self.action_label = f"Send the refund through {channel.label}"
            self.fields["reference"].label = "Payout reference (only for money moved by hand)"
            self.fields["reference"].help_text = (
                f"{amount or 'The refund'} goes out through {channel.label}, which returns it by the order's "
                "payment method: leave this empty, the shop's refund ID becomes the reference. Only if you moved "
                "the money yourself (or pay by another method), enter its reference: the shop then records the "
                "refund without moving money.")
        elif channel is not None:
            self.action_label = f"Record the refund in {channel.label}"
            self.fields["reference"].help_text = (
                f"{amount or 'The refund'}: {channel.label} cannot return this payment method itself. Move the "
                "money, enter its reference, and the refund is recorded in the shop.")
        elif self.route.held is not None:
            self.fields["reference"].help_text = (
                f"The shop recorded refund {self.route.held.shop_refund_id} without returning the money: move "
                "it yourself, then enter its reference. Nothing more is sent to the shop.")

    def clean(self) -> dict:
        data = super().clean()
        method = data.get("method")
        if method and method != self.case.order.payment_method and not (data.get("method_note") or "").strip():
            self.add_error("method_note", f"Say why the original payment method is not used"
                                          f"{cited(self.case.order, 'SAME-METHOD')}.")
        if method and not (data.get("reference") or "").strip() and self.route.reference_required(
                order=self.case.order, method=method):
            self.add_error("reference", "The payout reference is required.")
        return data


def _suggested_deny_reason(decision: Decision) -> str:
    if decision.outcome == Outcome.DENY:
        for clause in decision.clauses:
            if clause in _DENY_REASON_BY_CLAUSE:
                return _DENY_REASON_BY_CLAUSE[clause]
        return DenyReason.POLICY_EXCLUSION
    return DenyReason.OTHER


# --- the rest of the case page --------------------------------------------------------------


class CommentForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 40}), **TEXT_LIMIT)
    customer_visible = forms.BooleanField(
        required=False, label="Send to the customer",
        help_text="Ticked, the customer sees it on their case page and by e-mail. Otherwise only staff see it.",
    )


class ReasonForm(forms.Form):
    reason = forms.ChoiceField(choices=Reason.choices)
    outage_hours = forms.CharField(required=False, label="Outage hours", help_text="For server outages.")
    note = forms.CharField(required=False, widget=NOTE, **TEXT_LIMIT, label="Internal note (optional)",
                           help_text=STAFF_ONLY)


class StatutoryClaimForm(forms.Form):
    claimed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    note = forms.CharField(widget=NOTE, **TEXT_LIMIT, label="What the customer said", help_text=STAFF_ONLY)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="— Unassigned —")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users()


class EvidenceUploadForm(forms.Form):
    kind = forms.ChoiceField(choices=Evidence.Kind.choices, initial=Evidence.Kind.PROOF_OF_SERVICE)
    upload = forms.FileField(required=False, label="File")
    text = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 40}), label="Or paste text",
        help_text="An error message or an excerpt of the connection logs. Only staff see it.",
    )

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("upload") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Attach a file or paste some text.")
        return data

    @property
    def from_customer(self) -> bool:
        """Screenshots and error messages came from the customer, even when staff file them."""
        return self.cleaned_data["kind"] != Evidence.Kind.PROOF_OF_SERVICE


class CaseCreateForm(forms.Form):
    """The admin's "add case" form; ``services.case_create`` does the checks and the write."""

    order = forms.ModelChoiceField(queryset=Order.objects.select_related("customer", "storefront"))
    reason = forms.ChoiceField(choices=[("", "---------"), *Reason.choices])
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 60}), help_text="The customer's own words.",
        **DESCRIPTION_LIMIT,
    )
    # S1-CONTACT: what staff enter came by WhatsApp, e-mail or to them directly; only the portal
    # itself opens portal cases, so staff cannot claim one came that way.
    channel = forms.ChoiceField(choices=[c for c in Channel.choices if c[0] != Channel.PORTAL], initial=Channel.ADMIN)
    requested_at = forms.SplitDateTimeField(
        widget=AdminSplitDateTime, help_text="The first contact that asked for money back, on any channel."
    )
    outage_hours = forms.DecimalField(
        max_digits=7, decimal_places=1, min_value=Decimal("0"), initial=Decimal("0"),
        help_text="For server outages: hours without access (S0-OUTAGE).",
    )
    assignee = forms.ModelChoiceField(queryset=None, required=False, empty_label="— Unassigned —")

    def __init__(self, *args, admin_site=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users()
        self.fields["requested_at"].initial = timezone.now
        if admin_site is not None:
            use_order_picker(self.fields["order"], RefundCase._meta.get_field("order"), admin_site)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "order": data["order"],
            "reason": data["reason"],
            "description": data["description"],
            "channel": data["channel"],
            "requested_at": data["requested_at"],
            "outage_hours": data["outage_hours"],
            "assignee": data["assignee"],
        }

