"""Backtesting and publishing a draft from the admin: who may, the job, and the confirm page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.models import PolicyDraft, PolicyVersion
from reports.models import Backtest
from tests.admin.conftest import client_for, messages_of
from tests.conftest import make_user
from tests.policies.backtest_cases import version_in_force

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(s0) -> PolicyDraft:
    made = PolicyDraft.from_version(version_in_force(s0), version="24h", full_refund_window_hours=24)
    made.save()
    return made


def url(name: str, *args) -> str:
    return reverse(f"admin:policies_policydraft_{name}", args=args)


def backtest_from_admin(client, draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("backtest", draft.pk), {"start": "2026-01-01", "end": "2026-01-31"})
    assert response.status_code == 302
    return Backtest.objects.get(draft=draft)


def test_it_runs_a_backtest_as_a_job_and_shows_its_summary(history, draft, manager,
                                                            django_capture_on_commit_callbacks):
    client = client_for(manager)
    run = backtest_from_admin(client, draft, django_capture_on_commit_callbacks)
    assert (run.status, run.total, run.processed, run.changed) == (Backtest.Status.DONE, 5, 5, 2)
    page = client.get(url("backtest_run", draft.pk, run.pk))
    html = page.content.decode()
    assert "would be decided differently" in html
    for case in (history["paid_late"], history["withdrawn_late"]):
        assert reverse("admin:cases_refundcase_change", args=[case.pk]) in html
        assert case.number in html
    assert "-2.68" in html
    # The period as the manager gave it: 31 January is the last day, included, not "1 Feb (exclusive)".
    assert "Closed from 1 Jan 2026 to 31 Jan 2026 (both days included)" in html
    assert "exclusive" not in html


def test_it_shows_progress_while_the_job_runs(draft, manager):
    run = Backtest.objects.create(draft=draft, parameters=draft.parameters(), period_start=timezone.now(),
                                  period_end=timezone.now() + timedelta(days=1), status=Backtest.Status.RUNNING,
                                  total=200, processed=50)
    html = client_for(manager).get(url("backtest_run", draft.pk, run.pk)).content.decode()
    assert "50 of 200 cases (25 %)" in html
    assert 'http-equiv="refresh"' in html


def test_it_lets_only_managers_backtest_and_publish(draft, agent, outsider):
    for user in (agent, outsider):
        client = client_for(user)
        for name in ("backtest", "publish"):
            assert client.get(url(name, draft.pk)).status_code in (302, 403)
        response = client.post(url("backtest", draft.pk), {"start": "2026-01-01", "end": "2026-01-31"})
        assert response.status_code in (302, 403)
    assert not Backtest.objects.exists()


def test_it_refuses_a_reversed_period_with_a_message(draft, manager):
    response = client_for(manager).post(url("backtest", draft.pk), {"start": "2026-02-01", "end": "2026-01-01"})
    assert response.status_code == 200
    assert "The period ends before it starts." in response.content.decode()
    assert not Backtest.objects.exists()


def test_it_asks_for_a_backtest_before_publishing(draft, manager):
    client = client_for(manager)
    page = client.get(url("publish", draft.pk)).content.decode()
    assert "run a backtest of the draft as it is now" in page
    response = client.post(url("publish", draft.pk), {"effective_from": "2030-01-01 00:00", "confirm": "on",
                                                      "backtest": "1"})
    assert response.status_code == 200
    assert PolicyVersion.objects.filter(version="24h").count() == 0


def test_it_publishes_after_showing_the_backtest(history, draft, manager,
                                                 django_capture_on_commit_callbacks):
    client = client_for(manager)
    run = backtest_from_admin(client, draft, django_capture_on_commit_callbacks)
    page = client.get(url("publish", draft.pk)).content.decode()
    assert "would be decided differently" in page and history["paid_late"].number in page
    start = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    response = client.post(url("publish", draft.pk), {"effective_from": start, "confirm": "on", "backtest": run.pk})
    assert response.status_code == 302, response.content.decode()[:2000]
    version = PolicyVersion.objects.get(storefront=draft.storefront, version="24h")
    assert version.full_refund_window_hours == 24
    draft.refresh_from_db()
    assert draft.published_as == version
    # Sent again: the draft is published once.
    again = client.post(url("publish", draft.pk), {"effective_from": start, "confirm": "on", "backtest": run.pk})
    assert again.status_code == 302
    assert PolicyVersion.objects.filter(version="24h").count() == 1


def test_it_refuses_to_publish_a_draft_edited_after_its_backtest(history, draft, manager,
                                                                 django_capture_on_commit_callbacks):
    client = client_for(manager)
    run = backtest_from_admin(client, draft, django_capture_on_commit_callbacks)
    draft.full_refund_window_hours = 1
    draft.save()
    start = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    response = client.post(url("publish", draft.pk), {"effective_from": start, "confirm": "on", "backtest": run.pk})
    assert response.status_code == 200
    assert "run a backtest of the draft as it is now" in response.content.decode()
    assert not PolicyVersion.objects.filter(version="24h").exists()


def test_it_refuses_a_start_in_the_past_with_the_versions_message(history, draft, manager,
                                                                  django_capture_on_commit_callbacks):
    client = client_for(manager)
    run = backtest_from_admin(client, draft, django_capture_on_commit_callbacks)
    response = client.post(url("publish", draft.pk), {"effective_from": "2026-01-01 00:00", "confirm": "on",
                                                      "backtest": run.pk})
    assert response.status_code == 200
    assert "cannot start in the past" in response.content.decode()
    assert not PolicyVersion.objects.filter(version="24h").exists()


def test_it_refuses_to_publish_with_another_drafts_backtest(history, draft, manager, s0,
                                                            django_capture_on_commit_callbacks):
    client = client_for(manager)
    other = PolicyDraft.from_version(version_in_force(s0), version="other")
    other.save()
    foreign = backtest_from_admin(client, other, django_capture_on_commit_callbacks)
    backtest_from_admin(client, draft, django_capture_on_commit_callbacks)
    start = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    response = client.post(url("publish", draft.pk), {"effective_from": start, "confirm": "on",
                                                      "backtest": foreign.pk})
    assert response.status_code == 200
    assert not PolicyVersion.objects.filter(version="24h").exists()


def test_it_starts_a_draft_from_a_version(manager, s0):
    version = version_in_force(s0)
    client = client_for(manager)
    response = client.post(reverse("admin:policies_policyversion_changelist"),
                           {"action": "start_draft", "_selected_action": [version.pk]})
    assert response.status_code == 302
    page = client.get(response["Location"])
    form = page.context["adminform"].form
    assert form.initial["full_refund_window_hours"] == version.full_refund_window_hours
    assert form.initial["exclusions"] == list(version.exclusions)  # ticked reasons
    assert messages_of(page) == []


def test_it_lets_only_holders_of_the_delete_permission_delete_an_unpublished_draft(draft, agent, outsider, manager):
    run = Backtest.objects.create(draft=draft, parameters=draft.parameters(), period_start=timezone.now(),
                                  period_end=timezone.now() + timedelta(days=1))
    for user in (outsider, agent, manager):
        client = client_for(user)
        assert client.get(url("delete", draft.pk)).status_code == 403
        assert client.post(url("delete", draft.pk), {"post": "yes"}).status_code == 403
        listing = client.post(url("changelist"), {"action": "delete_selected", "_selected_action": [draft.pk],
                                                  "post": "yes"})
        assert listing.status_code in (200, 302, 403)
    assert PolicyDraft.objects.filter(pk=draft.pk).exists() and Backtest.objects.filter(pk=run.pk).exists()

    root = make_user("root", is_superuser=True)
    assert client_for(root).post(url("delete", draft.pk), {"post": "yes"}).status_code == 302
    assert not PolicyDraft.objects.exists() and not Backtest.objects.exists()
