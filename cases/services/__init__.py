"""Every write to a refund case goes through here.

Each service locks the case row and applies its transition with ``apply_transition`` at the moment
of the action: the actor and the policy are checked (the same named conditions the admin uses to
explain a blocked button), the FSM transition runs, the decision is snapshot; then the changed
columns are saved, the event appended, and the customer mailed only once the transaction has
committed. The deadline sweep applies its transitions with the same function. The machinery is in
``base``; the services are grouped by what they do to a case.
"""

from cases.checks import transition_error
from cases.services.base import Step, apply_transition, lock_case, parse_money, run_transition
from cases.services.decisions import MAX_BONUS_DAYS, case_approve, case_approve_statutory, case_deny, case_extend
from cases.services.opening import case_create, case_set_reason
from cases.services.payouts import case_pay
from cases.services.refunds import (
    refund_request_attempt,
    refund_request_confirm,
    refund_request_fail,
    refund_request_note,
)
from cases.services.work import (
    case_assign,
    case_comment,
    case_evidence_received,
    case_fix_failed,
    case_fix_succeeded,
    case_message_read,
    case_reopen,
    case_request_evidence,
    case_set_statutory_claim,
    case_start_fix,
    case_withdraw,
)
from core.errors import CaseActionError
from rules.money import MAX_MONEY

__all__ = [
    "MAX_BONUS_DAYS",
    "MAX_MONEY",
    "CaseActionError",
    "Step",
    "apply_transition",
    "case_approve",
    "case_approve_statutory",
    "case_assign",
    "case_comment",
    "case_create",
    "case_deny",
    "case_evidence_received",
    "case_extend",
    "case_fix_failed",
    "case_fix_succeeded",
    "case_message_read",
    "case_pay",
    "case_reopen",
    "case_request_evidence",
    "case_set_reason",
    "case_set_statutory_claim",
    "case_start_fix",
    "case_withdraw",
    "lock_case",
    "parse_money",
    "refund_request_attempt",
    "refund_request_confirm",
    "refund_request_fail",
    "refund_request_note",
    "run_transition",
    "transition_error",
]
