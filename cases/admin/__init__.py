"""Admin registrations for refund cases; the modules are split by page."""

from cases.admin import orders, tools  # noqa: F401  (order pages, chargebacks; the queues on the index)
from cases.admin.case_admin import RefundCaseAdmin
from cases.admin.records import CaseEventAdmin, EvidenceAdmin, PayoutAdmin

__all__ = ["CaseEventAdmin", "EvidenceAdmin", "PayoutAdmin", "RefundCaseAdmin"]
