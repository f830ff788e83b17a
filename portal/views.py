"""The customer portal's pages (the contract is described in docs/portal.md).

Thin: limit, parse, call one service, choose the page. The request and link forms answer with the
same page and status whether or not the order exists; a case page needs that case's live link.
"""

from __future__ import annotations

import hashlib

from django.core.cache import caches
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from cases.customer_links import Lookup, find_link, mark_used
from cases.customer_words import clause_words, reason_words
from cases.evidence_files import evidence_file_response, evidence_thumbnail_response
from cases.models import Evidence
from core.errors import CaseActionError
from core.uploads.handler import request_refusal
from orders.models import Storefront
from portal import limits
from portal.forms import (
    ACCEPT_IMAGES,
    MAX_FILES_PER_POST,
    LinkForm,
    MessageForm,
    RequestForm,
    WithdrawForm,
)
from portal.hints import reason_hints
from portal.models import PortalSubmission
from portal.pages import case_page, policy_versions
from portal.services import portal_message, portal_upload, portal_withdraw
from portal.shops import storefront_by_slug
from portal.submissions import portal_submit

NOTICE_KEY = "portal.notice.{}"


def _page(request, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    response = render(request, f"portal/{template}", context, status=status)
    # The case pages carry their secret in the address: never send it to another site as a Referer
    # ("same-origin", not "no-referrer": that makes browsers send "Origin: null", which CSRF refuses).
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _error(request, status: int, title: str, message: str, **extra) -> HttpResponse:
    return _page(request, "error.html", {"title": title, "message": message, **extra}, status=status)


def _too_many(request, error: limits.Limited, storefront=None) -> HttpResponse:
    minutes = max(1, (error.retry_after + 59) // 60)
    response = _page(request, "rate_limited.html", {"minutes": minutes, "storefront": storefront}, status=429)
    response["Retry-After"] = str(error.retry_after)
    return response


def _storefront(slug: str) -> Storefront:
    storefront = storefront_by_slug(slug)
    if storefront is None:
        raise Http404
    return storefront


def _unknown_shop(request) -> HttpResponse:
    return _error(request, 404, _("Page not found"), _("There is no shop at this address. Check the link you followed."))


# --- request a refund -------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def request_view(request, storefront: str):
    try:
        shop = _storefront(storefront)
    except Http404:
        return _unknown_shop(request)
    now = timezone.now()
    if request.method == "GET":
        return _request_form(request, shop, RequestForm(), now=now)
    try:
        limits.hit("request_ip", limits.client_address(request))
    except limits.Limited as error:
        return _too_many(request, error, shop)
    form = RequestForm(request.POST)
    files = request.FILES.getlist("screenshots")
    if refusal := request_refusal(request):
        form.add_error(None, refusal)
    elif len(files) > MAX_FILES_PER_POST:
        form.add_error(None, _("Send at most %(count)d files at a time.") % {"count": MAX_FILES_PER_POST})
    if not form.is_valid():
        return _request_form(request, shop, form, now=now, status=400)
    data = form.cleaned_data
    try:
        limits.hit("request_email", data["email"])
        limits.hit("request_order", limits.order_key(shop.slug, data["order_number"]))
    except limits.Limited as error:
        return _too_many(request, error, shop)
    if _first_time(data["submission"], data["order_number"], data["email"]):
        # Kept for a job that looks for the order: this answer takes the same work whether it exists or not.
        portal_submit(
            storefront=shop, kind=PortalSubmission.Kind.REQUEST, order_number=data["order_number"],
            email=data["email"], reason=data["reason"], description=data["description"], files=files, now=now,
        )
    return _page(request, "request_sent.html", {"storefront": shop, "email": data["email"]})


def _first_time(submission: str, order_number: str, email: str) -> bool:
    """The same rendered form sent again (double click, reload) is answered without acting twice.

    Keyed by the details too: the same form sent back with a corrected order number or address (a typo,
    then Back) is a new request, not a repeat of one that matched nothing.
    """
    if not submission:
        return True
    details = hashlib.sha256(f"{order_number.strip().lower()}\n{email.strip().lower()}".encode()).hexdigest()[:32]
    return caches["default"].add(f"portal:submission:{submission}:{details}", 1, timeout=24 * 3600)


def _request_form(request, shop: Storefront, form: RequestForm, *, now, status: int = 200) -> HttpResponse:
    hints = [
        {"reason": hint.reason, "label": reason_words(hint.reason), "lines": [
            {"situation": line.situation, "outcome": line.outcome, "clauses": clause_words(line.clauses, policy=line.policy)}
            for line in hint.lines
        ]}
        for hint in reason_hints(shop, now=now)
    ]
    return _page(request, "request.html", {
        "storefront": shop, "form": form, "hints": hints, "accept": ACCEPT_IMAGES, "max_files": MAX_FILES_PER_POST,
    }, status=status)


# --- the published policy ---------------------------------------------------------------------


@require_http_methods(["GET"])
def policy_view(request, storefront: str):
    try:
        shop = _storefront(storefront)
    except Http404:
        return _unknown_shop(request)
    return _page(request, "policy.html", {"storefront": shop, **policy_versions(shop, now=timezone.now())})


# --- send me my link again ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def link_view(request, storefront: str):
    try:
        shop = _storefront(storefront)
    except Http404:
        return _unknown_shop(request)
    if request.method == "GET":
        return _page(request, "link.html", {"storefront": shop, "form": LinkForm()})
    try:
        limits.hit("link_ip", limits.client_address(request))
    except limits.Limited as error:
        return _too_many(request, error, shop)
    form = LinkForm(request.POST)
    if not form.is_valid():
        return _page(request, "link.html", {"storefront": shop, "form": form}, status=400)
    data = form.cleaned_data
    try:
        limits.hit("link_email", data["email"])
        limits.hit("link_order", limits.order_key(shop.slug, data["order_number"]))
    except limits.Limited as error:
        return _too_many(request, error, shop)
    portal_submit(
        storefront=shop, kind=PortalSubmission.Kind.LINK, order_number=data["order_number"], email=data["email"],
    )
    return _page(request, "link_sent.html", {"storefront": shop, "email": data["email"]})


# --- the case behind its link -------------------------------------------------------------------


def _refused_link(request, lookup: Lookup) -> HttpResponse:
    if lookup.link is None:
        return _error(request, 404, _("This link does not work"), _(
            "The address is not a link we sent, or it was copied only in part. Open the link from our "
            "latest e-mail, or ask for a new one on the shop's refund page."
        ))
    storefront = lookup.link.case.order.storefront
    title = _("This link has expired") if lookup.status == "expired" else _("This link is no longer valid")
    return _page(request, "link_refused.html", {
        "title": title, "status": lookup.status, "storefront": storefront, "form": LinkForm(),
    }, status=410)


def _live_link(request, token: str):
    lookup = find_link(token)
    if not lookup.usable:
        return None, _refused_link(request, lookup)
    return lookup.link, None


@require_http_methods(["GET"])
def case_view(request, token: str):
    link, refused = _live_link(request, token)
    if refused:
        return refused
    mark_used(link, now=timezone.now())
    return _case_page(request, token, link)


def _case_page(request, token: str, link, *, message_form: MessageForm | None = None, status: int = 200):
    context = case_page(case=link.case, secret=token, now=timezone.now())
    context.update({
        "token": token,
        "notice": request.session.pop(NOTICE_KEY.format(link.pk), None) if hasattr(request, "session") else None,
        "accept": ACCEPT_IMAGES,
        "max_files": MAX_FILES_PER_POST,
        "withdraw_form": WithdrawForm(),
        "message_form": message_form or MessageForm(),
    })
    return _page(request, "case.html", context, status=status)


def _back_to_case(request, token: str, link, notice: dict) -> HttpResponseRedirect:
    request.session[NOTICE_KEY.format(link.pk)] = notice
    return HttpResponseRedirect(reverse("portal:case", args=[token]), status=303)


@require_POST
def upload_view(request, token: str):
    link, refused = _live_link(request, token)
    if refused:
        return refused
    if refusal := request_refusal(request):
        return _back_to_case(request, token, link, {"message": refusal})
    files = request.FILES.getlist("files")
    if not files:
        return _back_to_case(request, token, link, {"message": _("Choose at least one file to send.")})
    if len(files) > MAX_FILES_PER_POST:
        return _back_to_case(request, token, link, {
            "message": _("Send at most %(count)d files at a time; nothing was stored.") % {"count": MAX_FILES_PER_POST}
        })
    try:
        _count_files(request, link, files)
    except limits.Limited as error:
        return _too_many(request, error, link.case.order.storefront)
    try:
        results = portal_upload(link=link, files=files)
    except CaseActionError as error:
        return _back_to_case(request, token, link, {"message": error.message})
    return _back_to_case(request, token, link, {"files": _file_notes(results)})


def _count_files(request, link, files) -> None:
    """The upload limits, per address and per case; raises ``limits.Limited``."""
    limits.hit("upload_ip", limits.client_address(request), cost=len(files))
    limits.hit("upload_case", str(link.case_id), cost=len(files))


def _file_notes(results) -> list[dict]:
    """What the case page says of each file sent: accepted, or why not."""
    return [{"name": r.name, "accepted": r.accepted, "why": r.why} for r in results]


@require_POST
def message_view(request, token: str):
    """A message from the case page, with or without files; a form with mistakes comes back filled in."""
    link, refused = _live_link(request, token)
    if refused:
        return refused
    form = MessageForm(request.POST)
    files = request.FILES.getlist("files")
    if refusal := request_refusal(request):
        form.add_error(None, refusal)
    elif len(files) > MAX_FILES_PER_POST:
        form.add_error(None, _("Send at most %(count)d files at a time; nothing was sent.") % {"count": MAX_FILES_PER_POST})
    if form.is_valid() and not form.cleaned_data["message"] and not files:
        form.add_error("message", _("Write a message or choose a file to send."))
    if not form.is_valid():
        return _case_page(request, token, link, message_form=form, status=400)
    try:
        limits.hit("message_ip", limits.client_address(request))
        limits.hit("message_case", str(link.case_id))
        if files:
            _count_files(request, link, files)
    except limits.Limited as error:
        return _too_many(request, error, link.case.order.storefront)
    try:
        results = portal_message(link=link, text=form.cleaned_data["message"], files=files)
    except CaseActionError as error:
        form.add_error(None, error.message)
        return _case_page(request, token, link, message_form=form, status=400)
    return _back_to_case(request, token, link, {
        "message": _("Your message was sent. We will answer here and by e-mail.") if form.cleaned_data["message"] else "",
        "files": _file_notes(results),
    })


@require_POST
def withdraw_view(request, token: str):
    link, refused = _live_link(request, token)
    if refused:
        return refused
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        return _back_to_case(request, token, link, {
            "message": _("Tick the box to confirm that you want to withdraw your request.")
        })
    try:
        portal_withdraw(link=link)
    except CaseActionError as error:
        return _back_to_case(request, token, link, {"message": error.message})
    return _back_to_case(request, token, link, {"message": _("Your request is withdrawn. Nothing more will happen.")})


def _customer_file(request, token: str, evidence_id: int):
    link, refused = _live_link(request, token)
    if refused:
        return None, refused
    evidence = Evidence.objects.filter(pk=evidence_id, case_id=link.case_id, from_customer=True).first()
    if evidence is None or not evidence.file:
        return None, _error(request, 404, _("File not found"), _("This case has no such file."))
    return evidence, None


def _serve_file(request, token: str, evidence_id: int, respond, missing: str):
    evidence, refused = _customer_file(request, token, evidence_id)
    if refused:
        return refused
    try:
        response = respond(evidence)
    except Http404:
        return _error(request, 404, _("File not found"), missing)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET"])
def file_view(request, token: str, evidence_id: int):
    return _serve_file(request, token, evidence_id, evidence_file_response, _("This file is no longer available."))


@require_http_methods(["GET"])
def thumbnail_view(request, token: str, evidence_id: int):
    return _serve_file(request, token, evidence_id, evidence_thumbnail_response, _("This file has no preview."))
