"""The export from the case list: permission, filters and search kept, streaming, background jobs."""

from __future__ import annotations

import json
import re

from django.urls import reverse

from cases.models import RefundCase
from reports import services
from reports.models import ExportJob, ExportRecord
from reports.resources import CaseReportResource
from tests.admin.conftest import client_for
from tests.conftest import make_user
from tests.reports.conftest import parse_csv

EXPORT_URL = "admin:cases_refundcase_export"


def export_url(query: str = "") -> str:
    return reverse(EXPORT_URL) + (f"?{query}" if query else "")


def streamed(response) -> str:
    assert response.streaming, "CSV and JSON stream"
    return b"".join(response.streaming_content).decode("utf-8")


def test_it_refuses_the_export_to_an_agent_even_by_a_forged_post(cases_by_state, agent_client):
    assert agent_client.get(export_url("state=all")).status_code == 403
    assert agent_client.post(export_url("state=all"), {"format": "csv"}).status_code == 403
    assert ExportRecord.objects.count() == 0
    page = agent_client.get(reverse("admin:cases_refundcase_changelist"))
    assert b"Export these cases" not in page.content


def test_it_links_the_export_from_the_list_with_its_filters(cases_by_state, manager_client):
    page = manager_client.get(reverse("admin:cases_refundcase_changelist") + "?state=paid")
    assert page.status_code == 200
    assert export_url("state=paid").encode() in page.content


def test_it_shows_how_many_cases_the_filter_matches(cases_by_state, manager_client):
    page = manager_client.get(export_url("state=all"))
    assert page.status_code == 200
    assert page.context["count"] == len(cases_by_state)
    assert manager_client.get(export_url()).context["count"] == 4  # the list opens on open cases


def test_it_streams_exactly_the_filtered_and_searched_cases(cases_by_state, manager_client, manager):
    paid = cases_by_state["paid"]
    rows = parse_csv(streamed(manager_client.post(export_url("state=all&q=" + paid.order.number), {"format": "csv"})))
    assert [r["case_number"] for r in rows] == [paid.number]
    rows = parse_csv(streamed(manager_client.post(export_url("state=denied"), {"format": "csv"})))
    assert [r["case_number"] for r in rows] == [cases_by_state["denied"].number]
    record = ExportRecord.objects.order_by("created_at", "id").first()
    assert record.user == manager and record.via == "admin" and record.row_count == 1
    assert record.filters == {"state": "all", "q": paid.order.number}


def test_it_gives_the_same_rows_on_the_admin_the_command_and_the_resource(cases_by_state, manager_client):
    from io import StringIO

    from django.core.management import call_command

    admin_rows = parse_csv(streamed(manager_client.post(export_url("state=all"), {"format": "csv"})))
    out = StringIO()
    call_command("export_cases", stdout=out)
    assert parse_csv(out.getvalue()) == admin_rows
    dataset = CaseReportResource().export(RefundCase.objects.all())
    assert [dict(zip(dataset.headers, row)) for row in dataset] == admin_rows
    data = json.loads(streamed(manager_client.post(export_url("state=all"), {"format": "json"})))
    assert [item["case_number"] for item in data] == [row["case_number"] for row in admin_rows]


def test_it_builds_an_xlsx_in_the_background_and_offers_it_to_its_owner_only(
    cases_by_state, manager_client, manager2, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(export_url("state=all"), {"format": "xlsx"})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:cases_refundcase_export_job", args=[job.pk])
    assert job.status == "done" and job.processed == job.total == len(cases_by_state)
    page = manager_client.get(response["Location"])
    assert b"export-download" in page.content and page.context["job"].percent == 100
    download = manager_client.get(reverse("admin:cases_refundcase_export_file", args=[job.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"  # a zip: the workbook
    other = client_for(manager2)
    assert other.get(response["Location"]).status_code == 404
    assert other.get(reverse("admin:cases_refundcase_export_file", args=[job.pk])).status_code == 404
    assert job.record.row_count == len(cases_by_state)


def test_it_sends_a_big_csv_to_the_background(cases_by_state, manager_client, monkeypatch,
                                               django_capture_on_commit_callbacks):
    monkeypatch.setattr(services, "STREAM_LIMIT", 3)
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(export_url("state=all"), {"format": "csv"})
    assert response.status_code == 302
    job = ExportJob.objects.get()
    with job.file.open("rb") as handle:
        rows = parse_csv(handle.read().decode("utf-8"))
    assert len(rows) == len(cases_by_state)


def test_it_rechecks_the_permission_when_the_job_runs(cases_by_state, manager, django_capture_on_commit_callbacks):
    job = services.export_job_start(user=manager, fmt="csv", query="state=all", filters={}, row_count=8)
    manager.groups.clear()
    from reports.tasks import run_export_job

    run_export_job(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert job.error == "Exporting cases needs the export permission (support managers)."
    assert not job.file


def test_it_says_in_words_why_an_export_job_failed(cases_by_state, manager_client, monkeypatch,
                                                   django_capture_on_commit_callbacks):
    from reports import xlsx

    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)  # a sheet's rows with the header, made small
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(export_url("state=all"), {"format": "xlsx"})
    job = ExportJob.objects.get()
    assert (job.status, job.error) == (ExportJob.Status.FAILED,
                                       "more than 3 cases do not fit in one sheet: export CSV or JSON")
    page = manager_client.get(response["Location"]).content.decode()
    assert "The export failed: more than 3 cases do not fit in one sheet: export CSV or JSON" in page
    assert "Traceback" not in page and "Run this export job again" in page


def test_it_refuses_an_unknown_format(cases_by_state, manager_client):
    assert manager_client.post(export_url("state=all"), {"format": "exe"}).status_code == 404
    assert ExportRecord.objects.count() == 0


def test_it_lets_a_user_with_only_the_export_permission_export(cases_by_state):
    from django.contrib.auth.models import Permission

    user = make_user("rita", "Support agent")
    user.user_permissions.add(Permission.objects.get(codename="export_refundcase"))
    client = client_for(make_user_fresh(user))
    assert client.post(export_url("state=all"), {"format": "csv"}).status_code == 200


def make_user_fresh(user):
    return type(user).objects.get(pk=user.pk)


def test_it_names_an_export_job_by_what_it_holds(cases_by_state, manager_client, django_capture_on_commit_callbacks):
    approved = RefundCase.objects.filter(state="approved")
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(export_url("state=approved&reason__exact=other"), {"format": "xlsx"})
    job = ExportJob.objects.get()

    page = manager_client.get(response["Location"]).content.decode()
    listing = manager_client.get(export_url()).content.decode()

    cases = approved.filter(reason="other").count()
    expected = f"Approved cases, reason other: {cases:,} case{'s' if cases != 1 else ''}"
    assert job.name.startswith(expected), job.name
    assert expected in page and expected in listing
    assert not re.search(rf"Export {job.pk}\b(?! cases?\b)", page + listing + str(job))
    assert "<code>reason__exact</code>" not in page
