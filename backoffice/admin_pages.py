"""Who each admin page answers, for the pages that are not a registered model's own.

A registered model's list, add, change, delete and history pages answer from the user's view, add,
change and delete permissions on that model, which the model's admin may narrow with its
``has_*_permission`` methods but never widen (docs/decisions/0031); an application's index answers
whoever holds a permission in that application. Every other URL of the admin site is listed here
by its URL name. ``tests/admin/test_admin_permissions.py`` opens every URL the site serves as each
role, with GET and POST, and holds the answers to these rules: a new admin page without an entry
here fails it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Needs:
    """All of ``permissions`` (none: any active staff member), or one of the two special cases."""

    permissions: tuple[str, ...] = ()
    anyone: bool = False  # answered without logging in: the login page
    nobody: bool = False  # answers no one (no page is behind it on this site)


def perms(*names: str) -> Needs:
    return Needs(permissions=names)


STAFF = Needs()
ANYONE = Needs(anyone=True)
NOBODY = Needs(nobody=True)


@dataclass(frozen=True)
class AdminPage:
    answers: Needs  # who gets the page rather than a refusal
    writes: Needs = NOBODY  # who may change stored data by posting to it
    methods: tuple[str, ...] = ("GET", "POST")  # others get "method not allowed"


def _case_action(*extra: str, reaches: tuple[str, ...] = ()) -> AdminPage:
    """A form on the case page: posted to, it calls one service, which checks the work permission."""
    return AdminPage(answers=perms("cases.view_refundcase", *reaches),
                     writes=perms("cases.work_refundcase", *extra), methods=("POST",))


IMPORT = perms("orders.add_order", "orders.change_order")
EXPORT = perms("cases.export_refundcase")
BACKTEST = perms("policies.backtest_policy")
PUBLISH = perms("policies.backtest_policy", "policies.add_policyversion")
RESET_SECOND_FACTOR = perms("core.reset_second_factor")

PAGES: dict[str, AdminPage] = {
    # The site's own pages.
    "index": AdminPage(STAFF),
    "login": AdminPage(ANYONE),
    "logout": AdminPage(STAFF, writes=STAFF, methods=("POST",)),  # the access log keeps the time
    "password_change": AdminPage(STAFF, writes=STAFF),
    "password_change_done": AdminPage(STAFF, methods=("GET",)),
    "jsi18n": AdminPage(STAFF, methods=("GET",)),
    # It asks for the view permission of the model it searches; the test searches orders.
    "autocomplete": AdminPage(perms("orders.view_order"), methods=("GET",)),
    "view_on_site": AdminPage(NOBODY),  # no model here has a page on the site
    "auth_user_password_change": AdminPage(perms("auth.change_user"), writes=perms("auth.change_user")),
    # The second factor (docs/two-factor.md): each member of staff's own, and a manager's reset of another's.
    "second_factor": AdminPage(STAFF, methods=("GET",)),
    "second_factor_verify": AdminPage(STAFF, writes=STAFF),
    "second_factor_enrol": AdminPage(STAFF, writes=STAFF),
    "second_factor_backup_codes": AdminPage(STAFF, writes=STAFF),
    "second_factor_staff": AdminPage(RESET_SECOND_FACTOR, methods=("GET",)),
    "second_factor_reset": AdminPage(RESET_SECOND_FACTOR, writes=RESET_SECOND_FACTOR),
    # Refund cases: the export, the case page's forms and evidence files.
    "cases_refundcase_export": AdminPage(EXPORT, writes=EXPORT),
    "cases_refundcase_export_job": AdminPage(EXPORT),
    "cases_refundcase_export_file": AdminPage(EXPORT),
    "cases_refundcase_act": _case_action(),
    "cases_refundcase_comment": _case_action(),
    "cases_refundcase_assign": _case_action(),
    "cases_refundcase_reason": _case_action(),
    "cases_refundcase_statutory": _case_action(),
    "cases_refundcase_links_revoke": _case_action(),
    "cases_refundcase_links_reissue": _case_action(),
    "cases_refundcase_evidence_add": _case_action("cases.add_evidence", reaches=("cases.add_evidence",)),
    "cases_refundcase_mail_send_again": _case_action(reaches=("cases.change_refundcase",)),
    "cases_refundcase_evidence_thumbnail": AdminPage(perms("cases.view_refundcase", "cases.view_evidence")),
    "cases_refundcase_evidence_file": AdminPage(perms("cases.view_refundcase", "cases.view_evidence")),
    # Orders: the shop's order import, lifting a chargeback's sanction, a dispute's evidence packet.
    "orders_order_import": AdminPage(IMPORT, writes=IMPORT),
    "orders_order_process_import": AdminPage(IMPORT, writes=IMPORT, methods=("POST",)),
    "orders_chargeback_lift_sanction": AdminPage(perms("orders.lift_sanction"), writes=perms("orders.lift_sanction")),
    # The dispute's evidence packet (reports/admin_packet.py): a download, read only.
    "orders_chargeback_evidence_packet": AdminPage(perms("orders.view_chargeback", "orders.download_evidence_packet"),
                                                   methods=("GET",)),
    # Policies: the simulator, drafts' backtests and publishing.
    "policies_policyversion_simulate": AdminPage(perms("policies.simulate_policy")),
    "policies_policydraft_backtest": AdminPage(BACKTEST, writes=BACKTEST),
    "policies_policydraft_backtest_run": AdminPage(BACKTEST),
    "policies_policydraft_publish": AdminPage(PUBLISH, writes=PUBLISH),
    # Background jobs' buttons (core/job_admin.py): an export's by the user who asked for it.
    "reports_exportjob_cancel": AdminPage(EXPORT, writes=EXPORT, methods=("POST",)),
    "reports_exportjob_retry": AdminPage(EXPORT, writes=EXPORT, methods=("POST",)),
    "reports_backtest_cancel": AdminPage(BACKTEST, writes=BACKTEST, methods=("POST",)),
    "reports_backtest_retry": AdminPage(BACKTEST, writes=BACKTEST, methods=("POST",)),
}
