"""Why an action on a case was refused: a code for programs, a sentence for people."""

from __future__ import annotations


class Code:
    WRONG_STATE = "wrong_state"
    NO_PERMISSION = "no_permission"
    POLICY_BLOCKS = "policy_blocks"
    FOUR_EYES = "four_eyes"
    MANAGER_ONLY = "manager_only"
    AMOUNT_INVALID = "amount_invalid"
    AMOUNT_ABOVE_DECISION = "amount_above_decision"
    AMOUNT_ABOVE_REMAINDER = "amount_above_remainder"
    NOTE_REQUIRED = "note_required"
    REFERENCE_REQUIRED = "reference_required"
    ALREADY_DONE = "already_done"
    ALREADY_DONE_BY_YOU = "already_done_by_you"
    INVALID_INPUT = "invalid_input"
    NOT_FOUND = "not_found"


MESSAGES = {
    Code.WRONG_STATE: "This action is not possible while the case is {state}.",
    Code.NO_PERMISSION: "You do not have the permission for this action ({permission}).",
    Code.POLICY_BLOCKS: "{why}",
    Code.FOUR_EYES: "You approved this refund, so someone else must mark it paid (H-FOUR-EYES).",
    Code.MANAGER_ONLY: "Only a support manager can do this ({why}).",
    Code.AMOUNT_INVALID: "Give an amount greater than zero with at most two decimals.",
    Code.AMOUNT_ABOVE_DECISION: "The amount {amount} is above what the policy allows ({limit}, {clauses}).",
    Code.AMOUNT_ABOVE_REMAINDER: "The amount {amount} is above the order's refundable remainder ({limit}, H-CAP).",
    Code.NOTE_REQUIRED: "{what} is required.",
    Code.REFERENCE_REQUIRED: "The payout reference is required.",
    Code.ALREADY_DONE: "Someone else already changed this case (it is now {state}); reload the page.",
    Code.ALREADY_DONE_BY_YOU: "You already did this ({action}); the case is now {state}. Nothing was done twice.",
    Code.INVALID_INPUT: "{why}",
    Code.NOT_FOUND: "{what} is not recorded here.",
}


class CaseActionError(Exception):
    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.params = params
        self.message = MESSAGES[code].format(**params)
        super().__init__(self.message)
