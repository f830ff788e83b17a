"""A processor dispute's vocabulary: the reasons a bank gives, in words, and where a dispute stands.

The reason codes are Stripe's (``dispute.reason``), stored as Stripe sends them so a new code is
kept rather than lost; managers read them in words (``reason_words``), never as codes. A code we do
not know yet reads as such, without the code.

Stripe has eight statuses (``dispute.status``); managers need four (docs/disputes.md):

- open: ``needs_response``, ``under_review``, and the inquiries' ``warning_needs_response`` and
  ``warning_under_review``. Evidence can still be sent, or the bank is still deciding.
- won: ``won``. The bank decided for the shop and the money came back.
- lost: ``lost``. The bank decided for the customer.
- closed other: ``warning_closed`` (an inquiry that never became a chargeback), ``prevented`` (stopped
  before it was filed, e.g. Visa's Rapid Dispute Resolution refunding it) and the retired
  ``charge_refunded``. It ended without a decision either way.
"""

from __future__ import annotations

from django.db import models


class DisputeReason(models.TextChoices):
    FRAUDULENT = "fraudulent", "The cardholder says they did not make this payment (fraud)"
    PRODUCT_NOT_RECEIVED = "product_not_received", "The customer says they never received what they paid for"
    SUBSCRIPTION_CANCELED = "subscription_canceled", "The customer says they cancelled the subscription before this charge"
    DUPLICATE = "duplicate", "The customer says they were charged twice for one purchase"
    CREDIT_NOT_PROCESSED = "credit_not_processed", "The customer says a refund they were promised never arrived"
    GENERAL = "general", "No specific reason given by the bank"
    UNRECOGNIZED = "unrecognized", "The customer does not recognise the payment on their statement"
    PRODUCT_UNACCEPTABLE = "product_unacceptable", "The customer says what they received was faulty or not as described"
    CUSTOMER_INITIATED = "customer_initiated", "The customer asked their bank to reverse the payment"
    DEBIT_NOT_AUTHORIZED = "debit_not_authorized", "The account holder says they did not authorise this debit"
    INCORRECT_ACCOUNT_DETAILS = "incorrect_account_details", "The payment was taken from the wrong account"
    INSUFFICIENT_FUNDS = "insufficient_funds", "The customer's account did not have the money"
    BANK_CANNOT_PROCESS = "bank_cannot_process", "The customer's bank could not process the payment"
    CHECK_RETURNED = "check_returned", "The customer's cheque was returned"
    NONCOMPLIANT = "noncompliant", "The card network says the payment broke its rules"


UNKNOWN_REASON_WORDS = "A reason the bank gave that this back office does not know yet"
NO_REASON_WORDS = "No reason given"


def reason_words(code: str) -> str:
    if not code:
        return NO_REASON_WORDS
    try:
        return DisputeReason(code).label
    except ValueError:
        return UNKNOWN_REASON_WORDS


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    CLOSED_OTHER = "closed_other", "Closed without a decision"


# Stripe's statuses read as ours.
PROCESSOR_STATUSES = {
    "needs_response": DisputeStatus.OPEN,
    "under_review": DisputeStatus.OPEN,
    "warning_needs_response": DisputeStatus.OPEN,
    "warning_under_review": DisputeStatus.OPEN,
    "won": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
    "warning_closed": DisputeStatus.CLOSED_OTHER,
    "prevented": DisputeStatus.CLOSED_OTHER,
    "charge_refunded": DisputeStatus.CLOSED_OTHER,
}
CLOSED_STATUSES = (DisputeStatus.WON, DisputeStatus.LOST, DisputeStatus.CLOSED_OTHER)


def our_status(status: str) -> DisputeStatus | None:
    """One of our statuses, from ours or Stripe's; None for a word that is neither."""
    status = (status or "").strip().lower()
    if status in DisputeStatus.values:
        return DisputeStatus(status)
    return PROCESSOR_STATUSES.get(status)
