from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from cases import conditions
from cases.conditions import Condition, Permission
from cases.states import (
    CLOSED_STATES,
    OPEN_STATES,
    STATE_PHRASES,
    UNDECIDED_STATES,
    Channel,
    DenyReason,
    FixOutcome,
    Reason,
    Resolution,
    State,
)
from orders.models import MONEY
from policies.selectors import decide_for_case
from rules.case_facts import case_facts
from rules.engine import PAYMENT_METHOD_LABELS, Decision, Facts, Outcome

NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


def decision_needs_manager(decision: dict | None) -> bool:
    """Whether a decision snapshot leaves the case to a manager: a discretionary outcome
    (S1-DISCRETION, or no clause settles it), or a decision the engine marks as beyond what an
    agent may grant (``needs_manager``, e.g. an extension over the storefront's limit)."""
    decision = decision or {}
    return decision.get("outcome") == Outcome.MANAGER_DISCRETION or decision.get("needs_manager") is True


def guarded(
    *, source: str | list[str], target: str, conditions: Sequence[Condition] = (), permission: Permission | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A transition of ``RefundCase.state`` whose conditions and permission (``cases.conditions``) are
    judged at a moment the caller gives, by ``cases.checks``.

    They are kept in the transition's ``custom``, not handed to django-fsm, which would call them with
    the case alone and so judge them at whatever moment it read from the clock: the method itself
    checks only the source state.
    """
    return transition(field="state", source=source, target=target,
                      custom={"conditions": tuple(conditions), "permission": permission})


def new_case_number() -> str:
    return "RC-" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))


def new_portal_key() -> str:
    return secrets.token_urlsafe(32)


class RefundCase(FSMModelMixin, models.Model):
    """A customer's request for money back on one order, and everything done about it.

    ``state`` is protected: it changes only through the transitions below, and those are called
    only through ``cases.services.base.apply_transition``, on a locked row, which checks their
    conditions and permission at the moment it is given (``guarded``); the services and the deadline
    sweep then write what it returns.
    """

    number = models.CharField(max_length=16, unique=True, default=new_case_number, editable=False)
    portal_key = models.CharField(max_length=64, unique=True, default=new_portal_key, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="cases")
    # Copies of the order's storefront and currency, set when the case is added (an order with a
    # case keeps them): the dashboard and the export read them off the case row, without the order.
    storefront = models.ForeignKey(
        "orders.Storefront", on_delete=models.PROTECT, related_name="cases", editable=False
    )
    currency = models.CharField(max_length=3, editable=False)
    reason = models.CharField(max_length=32, choices=Reason.choices)
    description = models.TextField(blank=True, help_text="The customer's own words.")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.ADMIN)
    reason_confirmed = models.BooleanField(
        default=True, help_text="False until an agent confirms the reason of a request that came without one (e-mail)."
    )
    requested_at = models.DateTimeField(help_text="First contact that asked for money back, on any channel.")
    outage_hours = models.DecimalField(
        max_digits=7, decimal_places=1, default=Decimal("0"), help_text="For server outages: hours without access."
    )
    state = FSMField(default=State.REQUESTED, choices=State.choices, protected=True, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_cases"
    )

    fix_started_at = models.DateTimeField(null=True, blank=True)
    fix_outcome = models.CharField(max_length=16, choices=FixOutcome.choices, blank=True)
    fix_deadline = models.DateTimeField(null=True, blank=True)
    evidence_requested_at = models.DateTimeField(null=True, blank=True)
    evidence_due_at = models.DateTimeField(null=True, blank=True)
    evidence_reminded_at = models.DateTimeField(null=True, blank=True)
    next_deadline = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="The nearest deadline the case waits for, if any."
    )
    flagged = models.BooleanField(default=False, help_text="Needs the assignee's attention.")
    flag_reason = models.CharField(max_length=200, blank=True)
    # Set by the customer's portal messages, cleared when staff answer or the assignee opens the case
    # (docs/decisions/0041): the "new message" mark in the list and its queue.
    customer_wrote_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When the customer wrote a message no staff member has read or answered yet.",
    )

    decision = models.JSONField(default=dict, blank=True, help_text="The last policy decision, as a snapshot.")
    decided_at = models.DateTimeField(null=True, blank=True)
    needs_manager = models.BooleanField(
        default=False, editable=False,
        help_text="The last decision leaves the case to a manager (kept in step with the snapshot on save).",
    )

    statutory_claim = models.BooleanField(
        default=False,
        help_text="The customer invokes their rights under local law: a manager decides.",
    )
    # Kept in step with the event log by ``cases.events.record_event`` and the deadline sweep
    # (docs/decisions/0027): what the report and the dashboard would otherwise find among the events.
    first_response_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="The first transition a staff member made, or the first message they sent the customer.",
    )
    fix_window_missed = models.BooleanField(
        default=False, editable=False, help_text="A fix window ran out unresolved on this case (S0-FIX-48H)."
    )

    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    deny_reason = models.CharField(max_length=32, choices=DenyReason.choices, blank=True)
    approved_amount = models.DecimalField(**MONEY, null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approval_note = models.TextField(blank=True, help_text="Justification for discretionary approvals.")
    statutory_override = models.BooleanField(default=False, help_text="Approved on a written legal basis despite the policy.")
    approved_as_exception = models.BooleanField(
        default=False, help_text="Approved on a manager's authority (a discretionary or a legal-basis approval)."
    )
    approval_cancelled_at = models.DateTimeField(null=True, blank=True)
    approval_cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    statutory_basis = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at"]
        permissions = [
            ("work_refundcase", "Can work refund cases (fix, evidence, approve within policy, deny)"),
            ("approve_exception", "Can approve discretionary and statutory refunds"),
            ("pay_refundcase", "Can mark approved refunds paid"),
            ("export_refundcase", "Can export case reports"),
            ("view_dashboard", "Can see the managers' dashboard"),
        ]
        constraints = [
            # Two open cases on one order could each be approved for the whole remainder.
            models.UniqueConstraint(
                fields=["order"], condition=Q(state__in=list(OPEN_STATES)), name="case_one_open_per_order"
            ),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True) | Q(approved_amount__gt=0), name="case_approved_positive"
            ),
            models.CheckConstraint(
                condition=~Q(state__in=[State.APPROVED, State.PAID]) | Q(approved_amount__isnull=False),
                name="case_approved_has_amount",
            ),
            models.CheckConstraint(
                condition=Q(statutory_override=False) | ~Q(statutory_basis=""), name="case_statutory_has_basis"
            ),
        ]
        indexes = [
            models.Index(fields=["-requested_at"], name="case_requested_desc"),  # the queue's order
            models.Index(fields=["state", "next_deadline"]),
            models.Index(fields=["assignee", "state"]),
            # The managers' queue: few rows, read on every index page.
            models.Index(fields=["state", "next_deadline"], condition=Q(needs_manager=True),
                         name="case_needs_manager"),
            # The dashboard's weekly series read a bounded period of these moments.
            models.Index(fields=["decided_at"], name="case_decided_at"),
            models.Index(fields=["approved_at"], condition=Q(approved_at__isnull=False), name="case_approved_at"),
            # Covering (INCLUDE, PostgreSQL only) and partial: each dashboard query reads its index alone
            # (docs/decisions/0027).
            models.Index(fields=["storefront", "state"], include=["next_deadline"],
                         condition=Q(state__in=list(OPEN_STATES)), name="case_open_storefront"),
            models.Index(fields=["decided_at"], include=["state", "requested_at"],
                         condition=Q(state__in=list(CLOSED_STATES)), name="case_closed_decided"),
            models.Index(fields=["reason", "decided_at"], include=["state"],
                         condition=Q(state__in=list(CLOSED_STATES)), name="case_closed_reason"),
            models.Index(fields=["approved_at"], include=["currency", "approved_amount"],
                         condition=Q(approved_at__isnull=False, approval_cancelled_at__isnull=True),
                         name="case_approved_money"),
            models.Index(fields=["approved_at"], condition=Q(statutory_override=True), name="case_statutory_approved"),
            # The case list at a million rows (docs/decisions/0013): every sortable column with the
            # id that ends each ordering, the default queue order, and the small queues.
            # INCLUDE (PostgreSQL only): a deep page of open cases skips closed ones in the index.
            models.Index(fields=["next_deadline", "-requested_at", "-id"], include=["state"], name="case_queue_order"),
            models.Index(fields=["state", "next_deadline", "-requested_at", "-id"], name="case_state_queue_order"),
            models.Index(fields=["next_deadline", "id"], name="case_deadline_id"),
            models.Index(fields=["requested_at", "id"], name="case_requested_id"),
            models.Index(fields=["approved_amount", "id"], name="case_amount_id"),
            models.Index(fields=["state", "id"], name="case_state_id"),
            models.Index(fields=["reason", "id"], name="case_reason_id"),
            models.Index(fields=["assignee"], condition=Q(state__in=list(OPEN_STATES)), name="case_open_assignee"),
            # The list opens on the open cases: sorted by any column, in either direction, it walks
            # the open cases alone. On the whole-table indexes a descending sort starts among the
            # closed cases (their deadlines and amounts are NULL, which sort first descending).
            *(models.Index(fields=fields, condition=Q(state__in=list(OPEN_STATES)), name=name) for fields, name in (
                (["number"], "case_open_number"),
                (["state", "id"], "case_open_state_id"),
                (["requested_at", "id"], "case_open_requested_id"),
                (["next_deadline", "id"], "case_open_deadline_id"),
                (["reason", "id"], "case_open_reason_id"),
                (["approved_amount", "id"], "case_open_amount_id"),
            )),
            models.Index(fields=["id"], condition=Q(flagged=True), name="case_flagged"),
            # Two small queues, oldest first: unread customer messages, and approvals waiting to be paid.
            models.Index(fields=["customer_wrote_at", "id"], condition=Q(customer_wrote_at__isnull=False),
                         name="case_customer_wrote"),
            models.Index(fields=["approved_at", "id"], condition=Q(state=State.APPROVED), name="case_approved_unpaid"),
            models.Index(fields=["id"], condition=Q(statutory_override=True), name="case_statutory"),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs):
        if self._state.adding:
            self.copy_order_terms()
        self.refresh_needs_manager()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"decision", "statutory_claim"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "needs_manager"}
        super().save(*args, **kwargs)

    @property
    def state_phrase(self) -> str:
        return STATE_PHRASES.get(self.state, self.get_state_display().lower())

    def copy_order_terms(self) -> None:
        """Copy the order's storefront and currency onto the case (``save`` does for a new case; so
        must whatever creates cases in bulk)."""
        order = self.order
        self.storefront_id = order.storefront_id
        self.currency = order.currency

    def refresh_needs_manager(self) -> None:
        """Keep ``needs_manager`` in step with the claim and the snapshot (``save`` does; so must a bulk update)."""
        self.needs_manager = self.statutory_claim or decision_needs_manager(self.decision) or self._extension_over_limit()

    def _extension_over_limit(self) -> bool:
        """S0-OUTAGE: the lost days alone are more than an agent may grant on this storefront."""
        return self.order.storefront.extension_needs_manager((self.decision or {}).get("extension_days") or 0)

    # --- facts and decisions ------------------------------------------------------------

    def facts(self, *, as_of: datetime | None = None) -> Facts:
        order = self.order
        subscription = getattr(order, "subscription", None)
        return case_facts(
            price=order.amount,
            currency=order.currency,
            payment_method=order.payment_method,
            plan_months=order.plan.months,
            devices=order.plan.devices,
            purchased_at=order.purchased_at,
            delivered_at=subscription.delivered_at if subscription else None,
            refunded_so_far=order.returned_so_far,
            requested_at=self.requested_at,
            reason=self.reason,
            fix_started_at=self.fix_started_at,
            fix_outcome=self.fix_outcome,
            outage_hours=self.outage_hours,
            as_of=as_of or timezone.now(),
        )

    def evaluate(self, *, as_of: datetime | None = None) -> Decision:
        """The policy's decision now; cached on the instance until the facts change."""

        key = as_of
        cached = getattr(self, "_decision_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        decision = decide_for_case(case=self, as_of=as_of)
        self._decision_cache = (key, decision)
        return decision

    def forget_decision(self) -> None:
        self._decision_cache = None

    def clear_flag(self) -> None:
        self.flagged = False
        self.flag_reason = ""

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # --- transitions --------------------------------------------------------------------
    # Bodies change only this row, in memory; ``apply_transition`` runs them, and its callers (the
    # services, the deadline sweep) write the row, the event and the mail.

    @guarded(source=State.REQUESTED, target=State.AWAITING_FIX,
             conditions=[conditions.fix_attempt_needed], permission=conditions.can_work)
    def start_fix(self, *, at: datetime, deadline: datetime) -> None:
        """Record a fix attempt (S0-FIX-FIRST); the team has until ``deadline`` (S0-FIX-48H).

        Side effects (service): event, customer e-mail saying what happens next.
        """
        self.fix_started_at = at
        self.fix_outcome = FixOutcome.PENDING
        self.fix_deadline = deadline
        self.next_deadline = deadline
        self.forget_decision()

    @guarded(source=State.AWAITING_FIX, target=State.RESOLVED, permission=conditions.can_work)
    def fix_succeeded(self) -> None:
        """The issue was fixed: no money moves. Side effects: event, customer e-mail."""
        self.fix_outcome = FixOutcome.RESOLVED
        self.resolution = Resolution.FIXED
        self.next_deadline = None
        self.forget_decision()

    @guarded(source=State.AWAITING_FIX, target=State.REQUESTED, permission=conditions.can_work)
    def fix_failed(self) -> None:
        """The fix attempt failed: back to review, where S0-FIX-48H now allows a refund."""
        self.fix_outcome = FixOutcome.UNRESOLVED
        self.next_deadline = None
        self.forget_decision()

    @guarded(source=State.AWAITING_FIX, target=State.REQUESTED,
             conditions=[conditions.fix_window_over])
    def fix_window_expired(self) -> None:
        """Sweep: the fix window ran out unresolved (S0-FIX-48H). Flags the case for its assignee."""
        self.fix_outcome = FixOutcome.UNRESOLVED
        self.next_deadline = None
        self.flagged = True
        self.flag_reason = "Fix window ran out unresolved: a refund is now allowed."
        self.forget_decision()

    @guarded(source=State.REQUESTED, target=State.EVIDENCE_REQUESTED,
             permission=conditions.can_work)
    def request_evidence(self, *, at: datetime, due: datetime) -> None:
        """Ask the customer for screenshots or error messages (S0-EVIDENCE, S1-VERIFY).

        Side effects (service): customer-visible event with the message, e-mail to the customer.
        """
        self.evidence_requested_at = at
        self.evidence_due_at = due
        self.evidence_reminded_at = None
        self.next_deadline = due

    @guarded(source=State.EVIDENCE_REQUESTED, target=State.REQUESTED,
             permission=conditions.can_work)
    def evidence_received(self) -> None:
        """The customer answered; back to review."""
        self.evidence_due_at = None
        self.next_deadline = None
        self.clear_flag()

    @guarded(source=State.EVIDENCE_REQUESTED, target=State.REQUESTED,
             conditions=[conditions.evidence_overdue_after_reminder])
    def evidence_expired(self) -> None:
        """Sweep: no answer after the reminder; back to the agent's queue, flagged overdue."""
        self.evidence_due_at = None
        self.next_deadline = None
        self.flagged = True
        self.flag_reason = "Evidence request overdue: the customer did not answer the reminder."

    @guarded(source=list(UNDECIDED_STATES), target=State.APPROVED,
             conditions=[conditions.reason_confirmed, conditions.refund_allowed_now],
             permission=conditions.can_approve)
    def approve(self, *, amount: Decimal, by, at: datetime, note: str = "", exception: bool = False) -> None:
        """Approve a refund of ``amount``; checked against the decision by the service.

        ``exception``: a manager's discretionary approval (S1-DISCRETION); only a manager may cancel it.
        Side effects (service): event with the decision snapshot, e-mail with amount and next steps.
        """
        self._record_approval(amount=amount, by=by, at=at, note=note, statutory_basis="")
        self.approved_as_exception = exception

    def _record_approval(self, *, amount: Decimal, by, at: datetime, note: str, statutory_basis: str) -> None:
        self.approved_amount = amount
        self.approved_by = by
        self.approved_at = at
        self.approval_note = note
        self.statutory_override = bool(statutory_basis)
        self.approved_as_exception = bool(statutory_basis)
        self.statutory_basis = statutory_basis
        self.approval_cancelled_at = None
        self.approval_cancelled_by = None
        self.next_deadline = None
        self.clear_flag()

    @guarded(source=list(UNDECIDED_STATES), target=State.APPROVED,
             conditions=[conditions.statutory_override_available], permission=conditions.can_override)
    def approve_statutory(self, *, amount: Decimal, by, at: datetime, basis: str) -> None:
        """S1-STATUTORY: a manager approves despite the policy, on a written legal basis.

        Bypasses the policy's blocks (not H-CAP); marked as an override in the event and in reports.
        """
        self._record_approval(amount=amount, by=by, at=at, note="", statutory_basis=basis)

    @guarded(source=list(UNDECIDED_STATES), target=State.RESOLVED,
             conditions=[conditions.reason_confirmed, conditions.extension_offered, conditions.subscription_delivered],
             permission=conditions.can_extend)
    def extend(self) -> None:
        """S0-OUTAGE: lost days plus a bonus added to the subscription instead of money.

        Over the storefront's extension limit (lost + bonus days) only a manager may (``can_extend``).
        """
        self.resolution = Resolution.EXTENDED
        self.next_deadline = None
        self.clear_flag()

    @guarded(source=list(UNDECIDED_STATES), target=State.DENIED, permission=conditions.can_deny)
    def deny(self, *, reason: str) -> None:
        """Refuse the refund, citing a reason code and the clause. Side effects: event, e-mail."""
        self.resolution = Resolution.DENIED
        self.deny_reason = reason
        self.next_deadline = None
        self.clear_flag()

    @guarded(source=list(OPEN_STATES), target=State.WITHDRAWN, conditions=[conditions.no_refund_waiting],
             permission=conditions.can_withdraw)
    def withdraw(self, *, by=None, at: datetime | None = None) -> None:
        """The customer no longer wants the refund, or staff cancel an approval (``can_withdraw``).

        An approval cancelled here stays on record, marked cancelled, and is no longer current.
        """
        if self.state == State.APPROVED:
            self.approval_cancelled_at = at
            self.approval_cancelled_by = by
        self.resolution = Resolution.WITHDRAWN
        self.next_deadline = None
        self.clear_flag()

    @guarded(source=[State.DENIED, State.RESOLVED], target=State.REQUESTED,
             conditions=[conditions.not_extended, conditions.no_other_open_case], permission=conditions.can_work)
    def reopen(self) -> None:
        """The customer answered a denial or a fix: back to review, judged afresh by the policy.

        Side effects (service): the reopening on record with the agent's note; a fresh decision snapshot.
        """
        self.resolution = ""
        self.deny_reason = ""
        self.next_deadline = None
        self.clear_flag()

    @guarded(source=State.APPROVED, target=State.PAID,
             conditions=[conditions.no_refund_waiting, conditions.remainder_covers_approval],
             permission=conditions.can_pay)
    def pay(self) -> None:
        """Mark the approved refund paid; the service writes the payout row and updates the order."""
        self.resolution = Resolution.REFUNDED
        self.clear_flag()


class Payout(models.Model):
    """The money that left: exactly one per approved case, never more than the order's remainder."""

    case = models.OneToOneField(RefundCase, on_delete=models.PROTECT, related_name="payout")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="payouts")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=20)
    method_note = models.TextField(blank=True, help_text="Why the original payment method was not used.")
    reference = models.CharField(max_length=120)
    # The refund's id in the connected shop, when the shop made it for this payout: the shop lists it
    # among the order's refunds, and it must not be counted a second time (docs/shop.md). Empty: none.
    shop_refund_id = models.CharField(max_length=64, blank=True, default="", editable=False)
    paid_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    paid_at = models.DateTimeField()
    arrival_min_days = models.PositiveIntegerField()
    arrival_max_days = models.PositiveIntegerField()
    arrival_worst_days = models.PositiveIntegerField()
    expected_by = models.DateField(help_text="Latest usual arrival date (max business days after payment).")
    expected_worst_by = models.DateField()

    class Meta:
        ordering = ["-paid_at"]
        # The dashboard's weekly sums, from the index alone.
        indexes = [models.Index(fields=["paid_at"], include=["currency", "amount"], name="payout_paid_money")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(condition=~Q(reference=""), name="payout_has_reference"),
            models.UniqueConstraint(fields=["order", "shop_refund_id"], condition=~Q(shop_refund_id=""),
                                    name="payout_shop_refund_once"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} for {self.case}"

    @property
    def method_words(self) -> str:
        return PAYMENT_METHOD_LABELS.get(self.method, self.method)


class Evidence(models.Model):
    class Kind(models.TextChoices):
        SCREENSHOT = "screenshot", "Customer screenshot"
        ERROR_MESSAGE = "error_message", "Error message"
        PROOF_OF_SERVICE = "proof_of_service", "Proof of service (staff)"

    case = models.ForeignKey(RefundCase, on_delete=models.PROTECT, related_name="evidence")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    file = models.FileField(
        upload_to="evidence/%Y/%m/", blank=True,
        help_text="Stored under a random name; images are re-encoded without metadata (docs/uploads.md).",
    )
    thumbnail = models.FileField(
        upload_to="evidence/thumbnails/%Y/%m/", blank=True, help_text="Made once, when the image was accepted."
    )
    original_name = models.CharField(
        max_length=255, blank=True, help_text="The uploader's file name, sanitised; for display only."
    )
    text = models.TextField(blank=True, help_text="Pasted error message or log excerpt.")
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Of the file as received; one copy per case."
    )
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_customer = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "evidence"
        constraints = [
            models.CheckConstraint(condition=~Q(file="") | ~Q(text=""), name="evidence_has_content"),
            # The same file sent twice (a double submit, two mails with one attachment) is kept once.
            models.UniqueConstraint(fields=["case", "sha256"], condition=~Q(sha256=""), name="evidence_file_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.case}"

    @property
    def is_image(self) -> bool:
        return self.width is not None


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Case events are append-only; they cannot be updated.")

    def delete(self):
        raise TypeError("Case events are append-only; they cannot be deleted.")


class CaseEvent(models.Model):
    """One line of a case's history. Written once, never changed (see docs/decisions)."""

    class Kind(models.TextChoices):
        CREATED = "created", "Case opened"
        TRANSITION = "transition", "Transition"
        COMMENT = "comment", "Comment"
        EVIDENCE = "evidence", "Evidence added"
        REMINDER = "reminder", "Reminder sent"
        ASSIGNED = "assigned", "Assigned"
        REASON = "reason", "Reason set"
        STATUTORY_CLAIM = "statutory_claim", "Consumer-law claim"
        CHARGEBACK = "chargeback", "Chargeback"
        LINK = "link", "Customer link"
        MAIL = "mail", "Customer e-mail"
        SHOP_REFUND = "shop_refund", "Refunded in the shop"
        REFUND = "refund", "Refund through the shop"

    class Visibility(models.TextChoices):
        INTERNAL = "internal", "Internal"
        CUSTOMER = "customer", "Customer-visible"

    case = models.ForeignKey(RefundCase, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    transition = models.CharField(max_length=32, blank=True)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_label = models.CharField(max_length=150, help_text="Who acted, as shown: a user, 'customer' or 'system'.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    decision = models.JSONField(default=dict, blank=True)
    comment = models.TextField(blank=True)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL)
    data = models.JSONField(default=dict, blank=True, help_text="Details of the action (amounts, references).")

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"])]

    def __str__(self) -> str:
        return f"{self.case} {self.kind} {self.transition}".strip()

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Case events are append-only; they cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Case events are append-only; they cannot be deleted.")


# The customers' links and the outbox live in modules of their own; imported here so that Django sees
# them as models of this app.
from cases.models_links import CaseLink  # noqa: E402, F401
from cases.models_mail import OutboxMessage  # noqa: E402, F401
from cases.models_refunds import RefundRequest  # noqa: E402, F401
