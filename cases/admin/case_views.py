"""The case page's own admin views: transitions, comments, assignment, evidence.

Thin on purpose: parse the form, call one service, turn a ``CaseActionError`` into a message, and
go back to the case page. A rejected attempt's input is kept in the session so the form comes
back filled in, next to the reason it was refused.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse

from cases import services
from cases.admin.transitions import BY_NAME
from cases.evidence import evidence_add
from cases.evidence_files import evidence_file_response, evidence_thumbnail_response
from cases.forms import AssignForm, CommentForm, EvidenceUploadForm, ReasonForm, StatutoryClaimForm
from cases.models import Evidence, RefundCase
from cases.services.mail import case_mail_send_again
from cases.states import State
from core.errors import CaseActionError

RETRY_KEY = "cases.retry"
CONFLICT_MESSAGE = (
    "This could not be saved: it conflicts with what is already recorded on the case or its order "
    "(for example more refunded than was paid). Nothing was changed; reload the page and check."
)
logger = logging.getLogger(__name__)


def _form_errors_text(form) -> str:
    parts = []
    for field, errors in form.errors.items():
        visible = field in form.fields and not form.fields[field].widget.is_hidden
        label = str(form.fields[field].label or field.replace("_", " ")) if visible else ""
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label[:1].upper()}{label[1:]}: {text}" if label else text)
    return " ".join(parts)


class CaseViewsMixin:
    """Mixed into the case admin; the URLs follow contrib.auth's ``<id>/password/`` pattern."""

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/act/<str:name>/", view(self.transition_view), name="%s_%s_act" % info),
            path("<int:pk>/comment/", view(self.comment_view), name="%s_%s_comment" % info),
            path("<int:pk>/assign/", view(self.assign_view), name="%s_%s_assign" % info),
            path("<int:pk>/reason/", view(self.reason_view), name="%s_%s_reason" % info),
            path("<int:pk>/statutory/", view(self.statutory_claim_view), name="%s_%s_statutory" % info),
            path("<int:pk>/evidence/add/", view(self.evidence_add_view), name="%s_%s_evidence_add" % info),
            path(
                "<int:pk>/mail/<int:message_id>/send-again/",
                view(self.mail_send_again_view),
                name="%s_%s_mail_send_again" % info,
            ),
            path(
                "<int:pk>/evidence/<int:evidence_id>/thumbnail/",
                view(self.evidence_thumbnail_view),
                name="%s_%s_evidence_thumbnail" % info,
            ),
            path(
                "<int:pk>/evidence/<int:evidence_id>/file/",
                view(self.evidence_file_view),
                name="%s_%s_evidence_file" % info,
            ),
        ] + super().get_urls()

    # --- helpers ------------------------------------------------------------------------

    def _case_or_404(self, request, pk: int) -> RefundCase:
        case = self.get_object(request, str(pk))
        if case is None:
            raise Http404("No such case.")
        if not self.has_view_permission(request, case):
            raise PermissionDenied
        return case

    def _back(self, case_pk: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_change", args=[case_pk])
        )

    def _refuse(self, request, case_pk: int, message: str, *, action: str = "", data=None) -> HttpResponseRedirect:
        # A refusal is an expected outcome, not a fault: one line, no traceback.
        logger.warning("Refused %s on case id %s by %s: %s", action or "action", case_pk, request.user, message)
        messages.error(request, message)
        if action:
            request.session[RETRY_KEY] = {"case": case_pk, "action": action, "data": data or {}}
        return self._back(case_pk)

    @staticmethod
    def _kept_input(request, prefix: str = "") -> dict:
        return {
            key: value
            for key, value in request.POST.items()
            if key != "csrfmiddlewaretoken" and (not prefix or key.startswith(prefix + "-"))
        }

    def pop_retry(self, request, case_pk: int) -> dict | None:
        retry = request.session.pop(RETRY_KEY, None)
        return retry if retry and retry.get("case") == case_pk else None

    # --- views --------------------------------------------------------------------------

    def transition_view(self, request, pk: int, name: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        transition = BY_NAME.get(name)
        if transition is None:
            raise Http404("No such action.")
        case = self._case_or_404(request, pk)
        form = transition.form(request.POST, case=case, decision=case.evaluate(), prefix=name)
        kept = self._kept_input(request, name)
        if not form.is_valid():
            return self._refuse(request, pk, _form_errors_text(form), action=name, data=kept)
        try:
            case = transition.run(case, request.user, form.cleaned_data, form.cleaned_data["expected_state"])
        except CaseActionError as error:
            return self._refuse(request, pk, error.message, action=name, data=kept)
        except IntegrityError:
            # A database constraint caught what the checks did not (a race): the rule, not its name.
            return self._refuse(request, pk, CONFLICT_MESSAGE, action=name, data=kept)
        if name == "pay" and case.state != State.PAID:
            messages.success(request, f"Refund sent, waiting for the shop: case {case.number} stays approved until "
                                      "the shop confirms the refund, and is then marked paid.")
        else:
            messages.success(request, f"{transition.label}: done. Case {case.number} is now {case.state_phrase}.")
        return self._back(pk)

    def comment_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = self._case_or_404(request, pk)
        form = CommentForm(request.POST)
        if not form.is_valid():
            return self._refuse(request, pk, _form_errors_text(form), action="comment", data=self._kept_input(request))
        try:
            services.case_comment(
                case=case, actor=request.user, comment=form.cleaned_data["comment"],
                customer_visible=form.cleaned_data["customer_visible"],
            )
        except CaseActionError as error:
            return self._refuse(request, pk, error.message, action="comment", data=self._kept_input(request))
        sent = "sent to the customer" if form.cleaned_data["customer_visible"] else "added as an internal note"
        messages.success(request, f"Comment {sent}.")
        return self._back(pk)

    def assign_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = self._case_or_404(request, pk)
        data = request.POST.copy()
        if "assign_to_me" in data:
            data["assignee"] = str(request.user.pk)
        form = AssignForm(data)
        if not form.is_valid():
            return self._refuse(request, pk, _form_errors_text(form))
        try:
            case = services.case_assign(case=case, actor=request.user, assignee=form.cleaned_data["assignee"])
        except CaseActionError as error:
            return self._refuse(request, pk, error.message)
        who = case.assignee.get_username() if case.assignee else "nobody"
        messages.success(request, f"Case {case.number} is now assigned to {who}.")
        return self._back(pk)

    def reason_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = self._case_or_404(request, pk)
        form = ReasonForm(request.POST)
        if not form.is_valid():
            return self._refuse(request, pk, _form_errors_text(form))
        try:
            case = services.case_set_reason(
                case=case, actor=request.user, reason=form.cleaned_data["reason"],
                outage_hours=form.cleaned_data["outage_hours"], note=form.cleaned_data["note"],
                expected_state=request.POST.get("expected_state") or None,
            )
        except CaseActionError as error:
            return self._refuse(request, pk, error.message)
        messages.success(request, f"Case {case.number}: reason set to {case.get_reason_display().lower()}.")
        return self._back(pk)

    def statutory_claim_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = self._case_or_404(request, pk)
        form = StatutoryClaimForm(request.POST)
        if not form.is_valid():
            return self._refuse(request, pk, _form_errors_text(form))
        try:
            case = services.case_set_statutory_claim(
                case=case, actor=request.user, claimed=form.cleaned_data["claimed"], note=form.cleaned_data["note"],
            )
        except CaseActionError as error:
            return self._refuse(request, pk, error.message)
        if case.statutory_claim:
            messages.success(request, f"Case {case.number} waits for a manager: the customer invokes consumer law.")
        else:
            messages.success(request, f"Case {case.number}: the consumer-law claim is no longer on the case.")
        return self._back(pk)

    def evidence_add_view(self, request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = self._case_or_404(request, pk)
        if not request.user.has_perm("cases.add_evidence"):
            raise PermissionDenied
        form = EvidenceUploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._refuse(request, pk, _form_errors_text(form))
        try:
            evidence_add(
                case=case, kind=form.cleaned_data["kind"], upload=form.cleaned_data["upload"],
                text=form.cleaned_data["text"], actor=request.user, from_customer=form.from_customer,
            )
        except CaseActionError as error:
            return self._refuse(request, pk, error.message)
        messages.success(request, "Evidence added to the case.")
        return self._back(pk)

    def mail_send_again_view(self, request, pk: int, message_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        case = self._case_or_404(request, pk)
        if not self.has_change_permission(request, case):
            raise PermissionDenied
        try:
            message = case_mail_send_again(case=case, message_id=message_id, actor=request.user)
        except CaseActionError as error:
            return self._refuse(request, pk, error.message)
        # Without a broker the worker ran straight after the commit; with one, it is still queued here.
        messages.success(
            request, f"“{message.subject}” to {message.to} is sending again: now {message.get_status_display().lower()}."
        )
        return self._back(pk)

    def _evidence(self, request, pk: int, evidence_id: int) -> Evidence:
        case = self._case_or_404(request, pk)
        if not request.user.has_perm("cases.view_evidence"):
            raise PermissionDenied
        return get_object_or_404(Evidence, pk=evidence_id, case=case)

    def evidence_thumbnail_view(self, request, pk: int, evidence_id: int):
        return evidence_thumbnail_response(self._evidence(request, pk, evidence_id))

    def evidence_file_view(self, request, pk: int, evidence_id: int):
        return evidence_file_response(self._evidence(request, pk, evidence_id))
