"""Policy and clause texts are templates over their version's rules: the text and the rules never disagree."""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from policies.models import Clause, PolicyDraft, PolicyVersion
from reports.backtest import publish_backtested
from reports.models import Backtest
from rules.wording import render
from tests.policies.backtest_cases import version_in_force

pytestmark = pytest.mark.django_db

TEXTS = Path(__file__).resolve().parents[2] / "policies" / "texts"
SHIPPED = importlib.import_module("policies.migrations.0002_shipped_policies")


def backtested(draft: PolicyDraft) -> Backtest:
    """A finished backtest of the draft as it is: publishing asks for one."""
    now = timezone.now()
    return Backtest.objects.create(draft=draft, parameters=draft.parameters(), status=Backtest.Status.DONE,
                                   period_start=now - timedelta(days=30), period_end=now, finished_at=now)


def publish(draft: PolicyDraft, manager) -> PolicyVersion:
    return publish_backtested(draft_id=draft.pk, backtest_id=backtested(draft).pk, actor=manager,
                              effective_from=timezone.now() + timedelta(days=1))


def draft_of(storefront, **changes) -> PolicyDraft:
    draft = PolicyDraft.from_version(version_in_force(storefront), version="next", **changes)
    draft.full_clean()
    draft.save()
    return draft


@pytest.mark.parametrize("slug", ["iptv-smarters-pro", "smarters-pro"])
def test_it_renders_the_shipped_versions_word_for_word_as_published(slug):
    version = PolicyVersion.objects.get(storefront__slug=slug)
    assert "{{" in version.text  # stored as a template, not as a second copy of the rules
    assert version.rendered_text() == (TEXTS / f"{slug}.txt").read_text(encoding="utf-8")


def test_it_renders_every_shipped_clause_text_word_for_word():
    policies = {v.storefront.slug: v.to_policy() for v in PolicyVersion.objects.select_related("storefront")}
    templated = 0
    for clause_id, slug, summary, action in SHIPPED.CLAUSES:
        clause = Clause.objects.get(clause_id=clause_id)
        policy = policies[slug or "iptv-smarters-pro"]
        assert render(clause.summary, policy) == summary, clause_id
        assert render(clause.action, policy) == action, clause_id
        templated += "{{" in clause.summary + clause.action
    assert templated >= 8


def test_it_says_the_new_window_and_drops_a_removed_exclusion(s0):
    exclusions = {**version_in_force(s0).exclusions}
    del exclusions["adult_channels_missing"]
    draft = draft_of(s0, full_refund_window_hours=72, exclusions=exclusions)
    version = draft.as_version()
    text = version.rendered_text()
    assert "Refunds must be requested within 72 hours of the original purchase." in text
    assert "We only offer full refunds for purchases made within 72 hours." in text
    assert "If we cannot resolve your issue within 48 hours, we will issue a full refund." in text  # the fix window
    assert "adult channels" not in text
    assert "The user is unable to set up their own device" in text
    window = Clause.objects.get(clause_id="S0-WINDOW")
    assert render(window.summary, version.to_policy()) == (
        "Refunds must be requested within 72 h of purchase; full refunds only for requests within 72 h")
    assert draft.text_problems() == []


def test_it_words_the_change_of_mind_clause_after_the_exclusions_it_still_has(s0):
    exclusions = {**version_in_force(s0).exclusions}
    del exclusions["changed_mind"]
    policy = draft_of(s0, exclusions=exclusions).as_version().to_policy()
    assert render(Clause.objects.get(clause_id="S0-NO-CHANGE").summary, policy) == (
        "No refund when the customer asks to switch servers")
    assert "    • The customer requests to switch servers" in render(version_in_force(s0).text, policy)


def test_it_refuses_to_publish_a_draft_whose_text_still_says_the_old_window(s0, manager):
    shipped = version_in_force(s0).text
    text = shipped.replace("within {{ window_hours }} hours of the original purchase",
                           "within 48 hours of the original purchase")
    assert text != shipped
    draft = draft_of(s0, full_refund_window_hours=72, text=text)  # a draft may be saved as it is edited
    with pytest.raises(ValidationError) as refused:
        publish(draft, manager)
    message = " ".join(refused.value.messages)
    assert "still says “48 hours”" in message and "S0-WINDOW now says 72 hours" in message
    assert "{{ window_hours }}" in message
    assert not PolicyVersion.objects.filter(version="next").exists()
    assert draft.text_problems()  # and the draft page says it before anyone tries


def test_it_refuses_to_publish_a_draft_that_still_lists_a_removed_exclusion(s0, manager):
    shipped = version_in_force(s0)
    exclusions = {k: v for k, v in shipped.exclusions.items() if k != "adult_channels_missing"}
    text = shipped.text.replace("{% if excludes.adult_channels_missing %}", "", 1).replace(
        "{% endif %}For all refund-related", "For all refund-related", 1)
    draft = draft_of(s0, exclusions=exclusions, text=text)
    with pytest.raises(ValidationError) as refused:
        publish(draft, manager)
    message = " ".join(refused.value.messages)
    assert "still lists “adult channels”" in message and "S0-NO-ADULT" in message
    assert not PolicyVersion.objects.filter(version="next").exists()


def test_it_publishes_a_changed_draft_whose_texts_follow_its_rules(s0, manager):
    draft = draft_of(s0, full_refund_window_hours=72, fix_window_hours=24)
    version = publish(draft, manager)
    assert "within 72 hours of the original purchase" in version.rendered_text()
    assert "within 24 hours, we will issue a full refund" in version.rendered_text()


@pytest.mark.parametrize(("text", "words"), [
    ("Within {{ windw_hours }} hours.", "windw_hours"),
    ("{% if excludes.changed_mind %}No refund", "cannot be read as a template"),
    ("{% load static %}", "cannot be read as a template"),
])
def test_it_refuses_a_text_that_is_not_a_template_over_the_rules(s0, text, words):
    draft = PolicyDraft.from_version(version_in_force(s0), version="next", text=text)
    with pytest.raises(ValidationError) as refused:
        draft.full_clean()
    assert words in " ".join(refused.value.messages)


def test_it_refuses_a_text_naming_a_rule_the_version_does_not_have(s1):
    draft = PolicyDraft.from_version(version_in_force(s1), version="next", text="Within {{ window_hours }} hours.")
    with pytest.raises(ValidationError) as refused:
        draft.full_clean()
    assert "window_hours" in " ".join(refused.value.messages)


def test_it_edits_exclusions_as_ticked_reasons_citing_the_policys_own_clause(s0, s1):
    from django.forms import modelform_factory

    from policies.exclusion_field import ExclusionsForm

    form_class = modelform_factory(PolicyDraft, form=ExclusionsForm, fields=["code", "exclusions"])
    draft = draft_of(s1)
    form = form_class(data={"code": "S1", "exclusions": ["changed_mind", "server_switch"]}, instance=draft)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["exclusions"] == {"changed_mind": "S1-NOT-ELIGIBLE", "server_switch": "S1-NOT-ELIGIBLE"}
    form = form_class(data={"code": "S0", "exclusions": ["technical_issue"]}, instance=draft_of(s0))
    assert not form.is_valid()
    assert form.errors["exclusions"] == [
        "No clause of this policy excludes: Technical issue. Untick it, or add the clause to the policy text first."]


def test_it_warns_on_the_draft_page_before_publishing_refuses(s0, manager):
    from django.urls import reverse

    from tests.admin.conftest import client_for

    text = version_in_force(s0).text.replace("{{ window_hours }} hours of the original", "48 hours of the original")
    draft = draft_of(s0, full_refund_window_hours=72, text=text)
    page = client_for(manager).get(reverse("admin:policies_policydraft_change", args=[draft.pk])).content.decode()
    assert "Publishing will refuse this draft until this is fixed" in page and "S0-WINDOW now says 72 hours" in page
