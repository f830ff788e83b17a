"""A full case life per storefront, read the way its people read it.

The customer asks on the portal, answers an evidence request with words and a file; staff try a
fix, deny, reopen, approve and pay. Every page and e-mail either side saw is then scanned for what a
person should never read: internal codes, the other storefront's clause IDs, machine times, Python
reprs, and numbers the storefront's published rules contradict.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import caches
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from cases.models import OutboxMessage, RefundCase
from cases.states import DenyReason, State
from orders.models import Storefront
from policies.models import PolicyVersion
from rules.engine import REASONS, Outcome
from tests.conftest import make_order, make_user
from tests.portal.conftest import LINK, png

pytestmark = pytest.mark.django_db

# Codes a person must never read: every reason, state, outcome and deny-reason code with an
# underscore (single words such as "paid" are English as well as codes).
CODES = sorted(
    {code for code in (*REASONS, *State.values, *DenyReason.values,
                       *(v for k, v in vars(Outcome).items() if k.isupper())) if "_" in code}
)
MACHINE = {
    "an ISO time": re.compile(r"\d{4}-\d\d-\d\dT\d\d:"),
    "microseconds": re.compile(r"\d\d:\d\d:\d\d\.\d{3,}"),
    "a dict repr": re.compile(r"\{'"),
    "a QuerySet repr": re.compile(r"<QuerySet"),
    "a Decimal repr": re.compile(r"Decimal\("),
    "None": re.compile(r"\bNone\b"),
    "a lookup": re.compile(r"\w__\w"),
    "an object repr": re.compile(r"object at 0x|<bound method"),
    "a byte count": re.compile(r"\b\d+ bytes\b"),
    "a lowercase brand": re.compile(r"\b(?:paypal|Paypal|whatsapp)\b"),
    "a doubled word": re.compile(r"Customer sent customer|is now evidence requested", re.IGNORECASE),
}
# A date that is not "7 Dec 2026": a version's name ("version 2025-12-05") is a name, not a date.
HOUSE_BREAKERS = re.compile(r"(?<!version )(?<![v\d])\d{4}-\d\d-\d\d(?: \d\d:\d\d)?")
URL = re.compile(r"https?://\S+")
WINDOW = re.compile(r"(\d+)\s*[–-]\s*(\d+) business days")


@dataclass
class Reading:
    """Everything one side read, each with where it was read."""

    texts: list[tuple[str, str]] = field(default_factory=list)

    def page(self, where: str, response) -> None:
        assert response.status_code == 200, (where, response.status_code)
        self.texts.append((where, visible_text(response.content.decode())))

    def mail(self, message: OutboxMessage) -> None:
        self.texts.append((f"e-mail “{message.subject}”", f"{message.subject}\n{message.text_body}"))
        if message.html_body:
            self.texts.append((f"e-mail “{message.subject}” (HTML)", visible_text(message.html_body)))


def visible_text(page: str) -> str:
    """What a reader sees or hears: text, labels, help, titles and placeholders; not scripts or values."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<!--.*?-->", " ", page, flags=re.S)
    said = re.findall(r'\b(?:title|placeholder|aria-label|alt)="([^"]*)"', page)
    text = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(" ".join([text, *said]))


def complaints(reading: Reading, *, other_prefix: str, version: PolicyVersion) -> list[str]:
    found = []
    allowed = {(version.arrival_card_min, version.arrival_card_max), (version.arrival_other_min, version.arrival_other_max)}
    for where, text in reading.texts:
        text = URL.sub(" ", text)  # a link's random token may hold "__" or "-S1-" by chance
        for code in CODES:
            if match := re.search(rf"\b{code}\b", text):
                found.append(f"{where}: the code {code}: …{' '.join(text[max(0, match.start() - 80):match.end() + 40].split())}…")
        if re.search(rf"\b{other_prefix}-[A-Z]", text):
            found.append(f"{where}: a clause of the other storefront ({other_prefix}-)")
        for name, pattern in MACHINE.items():
            if match := pattern.search(text):
                found.append(f"{where}: {name}: …{' '.join(text[max(0, match.start() - 60):match.end() + 40].split())}…")
        for low, high in WINDOW.findall(text):
            if (int(low), int(high)) not in allowed:
                found.append(f"{where}: an arrival window of {low}–{high} business days the policy does not state")
    return found


def act(client: Client, case: RefundCase, action: str, reading: Reading, **data) -> None:
    case.refresh_from_db()
    payload = {f"{action}-expected_state": case.state, **{f"{action}-{k}": v for k, v in data.items()}}
    with ON_COMMIT(execute=True):
        response = client.post(reverse("admin:cases_refundcase_act", args=[case.pk, action]), payload, follow=True)
    reading.page(f"case page after {action}", response)
    messages = [str(m) for m in response.context["messages"]]
    assert not any("could not" in m.lower() or "only a" in m.lower() for m in messages), (action, messages)


ON_COMMIT = None  # pytest-django's django_capture_on_commit_callbacks, set by the test


def walk(storefront, settings) -> tuple[Reading, Reading, RefundCase]:
    settings.PORTAL_BASE_URL = "http://testserver"
    caches["default"].clear()
    customer, staff = Reading(), Reading()
    order = make_order(storefront, purchased_at=timezone.now() - timedelta(hours=3), payment_method="paypal")
    browser = Client()

    # The customer asks.
    staff_users = {name: Client() for name in ("agent", "manager", "payer")}
    staff_users["agent"].force_login(make_user("alice", "Support agent"))
    staff_users["manager"].force_login(make_user("maria", "Support manager"))
    staff_users["payer"].force_login(make_user("mike", "Support manager"))
    request_url = reverse("portal:request", args=[storefront.slug])
    customer.page("request form", browser.get(request_url))
    with ON_COMMIT(execute=True):
        customer.page("request sent", browser.post(request_url, {
            "order_number": order.number, "email": order.customer.email, "reason": "technical_issue",
            "description": "The channels do not load on my TV.", "screenshots": [png("tv.png")],
        }, follow=True))
    case = RefundCase.objects.get(order=order)
    link = next(m for message in OutboxMessage.objects.filter(case=case)
                for m in LINK.findall(message.text_body))
    customer.page("case page", browser.get(link))
    customer.page("policy page", browser.get(reverse("portal:policy", args=[storefront.slug])))

    # Staff ask for evidence; the customer answers with words and a file.
    agent, manager, payer = staff_users["agent"], staff_users["manager"], staff_users["payer"]
    staff.page("case list", agent.get(reverse("admin:cases_refundcase_changelist")))
    staff.page("case page", agent.get(reverse("admin:cases_refundcase_change", args=[case.pk])))
    act(agent, case, "request_evidence", staff, message="A photo of the error on your TV, please.")
    customer.page("case page, evidence asked", browser.get(link))
    token_path = link.split("testserver")[-1]
    token = token_path.rstrip("/").split("/")[-1]
    with ON_COMMIT(execute=True):
        customer.page("case page, answered", browser.post(
            reverse("portal:message", args=[token]),
            {"message": "Here is the error on the TV.", "files": [png("error.png")]}, follow=True))
    case.refresh_from_db()
    if case.state == State.EVIDENCE_REQUESTED:
        act(agent, case, "evidence_received", staff, note="Photo shows the error.")

    # A fix is tried and fails; a denial is reopened; the refund is approved and paid.
    act(agent, case, "start_fix", staff, note="Resetting the line.", customer_visible="on")
    act(agent, case, "fix_failed", staff, note="Still failing.")
    act(agent, case, "deny", staff, reason="other", note="We could not confirm the problem.")
    act(agent, case, "reopen", staff, note="The customer sent a new photo of the error.")
    case.refresh_from_db()
    act(manager, case, "approve", staff, amount=str(order.amount), note="Fix failed.")
    act(payer, case, "pay", staff, reference="PAY-123", method="paypal")
    customer.page("case page, paid", browser.get(link))

    staff.page("case list at the end", agent.get(reverse("admin:cases_refundcase_changelist")))
    staff.page("case page at the end", agent.get(reverse("admin:cases_refundcase_change", args=[case.pk])))
    staff.page("order page", agent.get(reverse("admin:orders_order_change", args=[order.pk])))
    for message in OutboxMessage.objects.filter(case=case).order_by("pk"):
        customer.mail(message)
    for sent in mail.outbox:
        customer.texts.append((f"sent e-mail “{sent.subject}”", f"{sent.subject}\n{sent.body}"))
        for content, kind in getattr(sent, "alternatives", []):
            if kind == "text/html":
                customer.texts.append((f"sent e-mail “{sent.subject}” (HTML)", visible_text(content)))
    case.refresh_from_db()
    assert case.state == State.PAID
    return customer, staff, case


@pytest.mark.parametrize(("slug", "other"), [("iptv-smarters-pro", "S1"), ("smarters-pro", "S0")])
def test_it_walks_a_case_life_and_says_everything_in_plain_words(
    slug, other, settings, media, mailoutbox, django_capture_on_commit_callbacks
):
    global ON_COMMIT
    ON_COMMIT = django_capture_on_commit_callbacks

    storefront = Storefront.objects.get(slug=slug)
    customer, staff, case = walk(storefront, settings)
    version = case.policy_version if getattr(case, "policy_version", None) else PolicyVersion.objects.filter(
        storefront=storefront).latest("effective_from")
    found = complaints(customer, other_prefix=other, version=version)
    found += complaints(staff, other_prefix=other, version=version)
    found += [f"{where}: a date not in the house format: {m}" for where, text in staff.texts
              for m in re.findall(HOUSE_BREAKERS, text)]
    # The arrival window is stated once on the case page, with its dates.
    final = dict(staff.texts)["case page at the end"]
    by = date_format(case.payout.expected_by)
    if final.count(by) != 1:
        found.append(f"case page at the end: the arrival date {by} appears {final.count(by)} times: "
                     + " | ".join(" ".join(final[max(0, m.start() - 120):m.end() + 20].split())
                                  for m in re.finditer(re.escape(by), final)))
    assert not found, "\n".join(dict.fromkeys(found))
