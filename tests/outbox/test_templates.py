"""What each customer e-mail says, in text and in HTML: the facts of the case, in words."""

from __future__ import annotations

import re

import pytest

from cases import services
from cases.customer_words import arrival_words
from cases.links import portal_link_request_url
from cases.models import OutboxMessage
from cases.notifications import send_case_email
from tests.cases import WITHIN_WINDOW, later, open_case
from tests.conftest import at

NOW = later(WITHIN_WINDOW, hours=1)
CLAUSE_CODE = re.compile(r"\bS[01]-[A-Z0-9-]+\b")


def both(case, template: str) -> tuple[str, str]:
    message = OutboxMessage.objects.filter(case=case, template=template).latest("pk")
    return message.text_body, message.html_body


def assert_in_both(needle: str, text: str, html: str) -> None:
    assert needle in text, text
    assert needle in html, html


def test_it_points_mail_without_a_fresh_link_to_the_storefronts_link_page(s0, settings):
    settings.PORTAL_BASE_URL = "https://refunds.example.com/"
    case = open_case(s0)
    assert portal_link_request_url(case) == f"https://refunds.example.com/portal/{s0.slug}/link/"


def test_it_sends_the_cases_own_link_with_the_acknowledgement(s0):
    case = open_case(s0)
    text, html = both(case, "received")
    link = re.search(r"https?://\S+/portal/c/[^/\s]+/", text).group(0)
    assert_in_both(link, text, html)
    assert case.links.count() == 1


def test_it_says_where_to_ask_for_a_link_in_mail_that_carries_none(s0, agent):
    case = services.case_approve(case=open_case(s0), actor=agent, now=NOW)
    text, html = both(case, "approved")
    assert_in_both(portal_link_request_url(case), text, html)
    assert "/portal/c/" not in text
    assert_in_both(case.number, text, html)
    assert "refunded in full" in text  # the policy's words on what to expect


def test_it_quotes_the_agents_message_when_asking_for_evidence(s0, agent):
    case = open_case(s0)
    services.case_request_evidence(case=case, actor=agent, message="Send a photo of the <error> on your TV.",
                                   now=NOW)
    text, html = both(case, "evidence_requested")
    assert "Send a photo of the <error> on your TV." in text
    assert "Send a photo of the &lt;error&gt; on your TV." in html  # escaped in HTML, never markup
    link = re.search(r"https?://\S+/portal/c/[^/\s]+/", text).group(0)  # a fresh link of the case's own
    assert_in_both(link, text, html)
    assert_in_both("January 2026", text, html)  # the due date


def test_it_gives_the_fix_deadline_when_a_fix_starts(s0, agent):
    case = open_case(s0, reason="technical_issue")
    services.case_start_fix(case=case, actor=agent, now=NOW)
    case.refresh_from_db()
    text, html = both(case, "fix_started")
    assert_in_both(f"{case.fix_deadline.day} {case.fix_deadline:%B %Y, %H:%M} UTC", text, html)


def test_it_gives_the_approved_amount(s0, agent):
    case = services.case_approve(case=open_case(s0), actor=agent, amount="20.00", now=NOW)
    text, html = both(case, "approved")
    assert "Your refund of 20.00 USD" in text
    assert "20.00 USD" in html


def test_it_gives_the_denial_reason_and_clause_in_words_never_codes(s0, agent):
    case = open_case(s0, reason="changed_mind")
    services.case_deny(case=case, actor=agent, reason="policy_exclusion", now=NOW)
    text, html = both(case, "denied")
    assert_in_both("Excluded by the policy", text, html)
    assert_in_both("does not cover a change of mind", text, html)
    assert "What our refund policy says:" in text
    assert not CLAUSE_CODE.search(text) and not CLAUSE_CODE.search(html)
    assert "policy_exclusion" not in text + html


def test_it_quotes_no_clause_granting_a_refund_when_staff_deny_against_the_policy(s0, agent):
    case = open_case(s0)
    services.case_deny(case=case, actor=agent, reason="abuse", note="This card was reported stolen.", now=NOW)
    text, html = both(case, "denied")
    assert_in_both("This card was reported stolen.", text, html)
    assert "What our refund policy says" not in text + html
    assert_in_both("Suspected abuse", text, html)


def test_it_gives_the_amount_method_and_arrival_window_once_paid(s0, agent, manager):
    case = services.case_approve(case=open_case(s0, payment_method="paypal"), actor=agent, now=NOW)
    services.case_pay(case=case, actor=manager, reference="PP-77", now=later(NOW, hours=1))
    case.refresh_from_db()
    payout = case.payout
    text, html = both(case, "paid")
    assert_in_both(f"{payout.amount} {payout.currency}", text, html)
    assert_in_both("by PayPal", text, html)
    assert_in_both(f"{payout.expected_by.day} {payout.expected_by:%B %Y}", text, html)
    # The policy quoted as the customer's case page quotes it, rendered from the version, each sentence once
    for sentence in arrival_words(case):
        assert text.count(sentence) == 1 and html.count(sentence) == 1
    assert "processor refunds 20–90 business days" in text and "We cannot accelerate the processor" in text
    assert text.count("business days") == 2


def test_it_gives_the_days_added_by_an_extension(s0, agent):
    request = at("2026-02-15 10:00")
    case = open_case(s0, reason="server_outage", outage_hours="72", requested_at=request)
    services.case_extend(case=case, actor=agent, bonus_days=5, note="Sorry", now=later(request, hours=1))
    text, html = both(case, "extended")
    assert "we have added 8 days to your subscription" in text
    assert "(3 for the time you lost and 5 extra)" in text
    assert "8 days" in html


def test_it_sends_the_new_link_when_it_is_reissued(s0):
    case = open_case(s0)
    link = "https://refunds.example.com/portal/c/secret-of-this-case/"
    send_case_email(case_id=case.pk, template="link_reissued", extra={"portal_url": link, "by_staff": True})
    text, html = both(case, "link_reissued")
    assert_in_both(link, text, html)
    assert_in_both("earlier links no longer work", text, html)
    assert OutboxMessage.objects.get(case=case, template="link_reissued").subject == (
        f"[{case.number}] The link to your case"
    )


@pytest.mark.parametrize("template", [
    "received", "evidence_requested", "fix_started", "approved", "denied", "paid", "extended", "link_reissued",
    "comment", "withdrawn", "approval_cancelled", "evidence_reminder", "fix_succeeded", "fix_window_expired",
])
def test_it_has_a_text_and_an_html_version_of_every_case_email(template):
    from django.template.loader import get_template

    assert get_template(f"cases/email/{template}.txt") and get_template(f"cases/email/{template}.html")
    assert get_template(f"cases/email/{template}_subject.txt")


def test_it_never_puts_the_intake_marker_in_a_subject(s0):
    case = open_case(s0)
    for template in ("received", "link_reissued", "comment"):
        message = send_case_email(case_id=case.pk, template=template, extra={"comment": "x"})
        assert "refund request" not in message.subject.lower()


def test_it_quotes_the_clause_as_the_customers_case_page_does_without_our_editorial_notes(s1, manager):
    from cases.customer_words import clause_words
    from policies.selectors import policy_for_order

    case = open_case(s1, reason="changed_mind")
    services.case_deny(case=case, actor=manager, reason="policy_exclusion", now=NOW)
    case.refresh_from_db()
    text, html = both(case, "denied")
    assert "missing from the copy" not in text + html  # a note for staff on the published text
    words = clause_words(case.decision["clauses"], policy=policy_for_order(case.order))
    assert words and all(w in text and w in html for w in words)
