"""Opening a case from the admin, and evidence served only through permission-checked views."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from cases.evidence import evidence_add
from cases.models import CaseEvent, Evidence, RefundCase
from tests.admin.conftest import case_url, client_for, messages_of, open_case, recent
from tests.conftest import image_bytes, make_order

ADD_URL = "admin:cases_refundcase_add"


pytestmark = pytest.mark.usefixtures("media")


def png(size=(320, 200)) -> bytes:
    return image_bytes("PNG", size=size)


def add_form_data(order, **overrides) -> dict:
    moment = timezone.localtime(order.purchased_at + timedelta(hours=1))
    data = {
        "order": str(order.pk), "reason": "other", "description": "Wants the money back.", "channel": "whatsapp",
        "requested_at_0": moment.strftime("%Y-%m-%d"), "requested_at_1": moment.strftime("%H:%M:%S"),
        "outage_hours": "0", "assignee": "",
    }
    data.update(overrides)
    return data


def test_it_opens_a_case_through_the_service(s0, agent, mailoutbox, django_capture_on_commit_callbacks):
    order = make_order(s0, purchased_at=recent(3))
    client = client_for(agent)
    assert client.get(reverse(ADD_URL), {"order": order.pk}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse(ADD_URL), add_form_data(order, assignee=str(agent.pk)), follow=True)
    case = RefundCase.objects.get(order=order)
    assert response.redirect_chain[-1][0] == case_url(case)
    assert case.channel == "whatsapp" and case.assignee == agent and case.decision["outcome"] == "full_refund"
    assert CaseEvent.objects.filter(case=case, kind="created", actor=agent).exists()
    assert len(mailoutbox) == 1
    assert any(case.number in m for m in messages_of(response))


def test_it_shows_service_refusals_as_form_errors(s0, agent):
    order = make_order(s0, purchased_at=recent(3))
    existing = open_case(s0, reason="other", order_kwargs={"purchased_at": recent(5)})
    client = client_for(agent)
    response = client.post(reverse(ADD_URL), add_form_data(existing.order))
    assert response.status_code == 200
    assert f"already has an open case, {existing.number}" in response.content.decode()
    early = timezone.localtime(order.purchased_at - timedelta(days=1))
    response = client.post(reverse(ADD_URL), add_form_data(
        order, requested_at_0=early.strftime("%Y-%m-%d"), requested_at_1=early.strftime("%H:%M:%S")))
    assert "before the purchase time" in response.content.decode()
    bad = {**add_form_data(order, outage_hours="lots"), "order": "999999"}
    response = client.post(reverse(ADD_URL), bad)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() == {"order", "outage_hours"}
    assert RefundCase.objects.count() == 1


def test_it_forbids_the_add_page_without_the_add_permission(s0, outsider):
    assert client_for(outsider).get(reverse(ADD_URL)).status_code == 403


def test_it_uploads_staff_proof_of_service_and_shows_a_thumbnail(s0, agent):
    case = open_case(s0, reason="other")
    client = client_for(agent)
    upload = SimpleUploadedFile("connection.png", png(), content_type="image/png")
    response = client.post(case_url(case, "evidence_add"), {"kind": "proof_of_service", "upload": upload},
                           follow=True)
    evidence = Evidence.objects.get(case=case)
    assert evidence.kind == "proof_of_service" and not evidence.from_customer and evidence.uploaded_by == agent
    html = response.content.decode()
    thumb = case_url(case, "evidence_thumbnail", evidence.pk)
    assert f'src="{thumb}"' in html and "connection.png" in html
    response = client.get(thumb)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert Image.open(BytesIO(response.content)).size[0] <= 240
    original = client.get(case_url(case, "evidence_file", evidence.pk))
    assert original.status_code == 200 and original["Content-Type"] == "image/png"
    assert b"".join(original.streaming_content) == evidence.file.open("rb").read()


def test_it_reports_a_refused_upload_as_a_message(s0, agent):
    case = open_case(s0, reason="other")
    client = client_for(agent)
    fake = SimpleUploadedFile("shot.png", b"MZ\x90\x00 not an image", content_type="image/png")
    response = client.post(case_url(case, "evidence_add"), {"kind": "screenshot", "upload": fake}, follow=True)
    assert response.status_code == 200 and messages_of(response)
    response = client.post(case_url(case, "evidence_add"), {"kind": "proof_of_service"}, follow=True)
    assert any("Attach a file" in m for m in messages_of(response))
    assert not Evidence.objects.filter(case=case).exists()


def test_it_checks_permissions_on_thumbnails_and_files(s0, agent, outsider):
    case = open_case(s0, reason="other")
    evidence = evidence_add(case=case, kind="screenshot", actor=agent, from_customer=True,
                            upload=SimpleUploadedFile("s.png", png(), content_type="image/png"))
    thumb = case_url(case, "evidence_thumbnail", evidence.pk)
    original = case_url(case, "evidence_file", evidence.pk)
    assert client_for(outsider).get(thumb).status_code == 403
    assert client_for(outsider).get(original).status_code == 403
    anonymous = client_for(agent)
    anonymous.logout()
    assert anonymous.get(thumb).status_code == 302  # to the admin login
    other_case = open_case(s0, reason="other")
    # An evidence id under another case's URL is not found, even for staff who may see both.
    assert client_for(agent).get(case_url(other_case, "evidence_thumbnail", evidence.pk)).status_code == 404
    assert client_for(agent).get(thumb).status_code == 200


def test_it_serves_text_logs_as_downloads_never_inline(s0, agent):
    case = open_case(s0, reason="other")
    log = SimpleUploadedFile("log.txt", b"<script>alert(1)</script>\nlogin ok\n", content_type="text/plain")
    evidence = evidence_add(case=case, kind="proof_of_service", actor=agent, upload=log)
    response = client_for(agent).get(case_url(case, "evidence_file", evidence.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert client_for(agent).get(case_url(case, "evidence_thumbnail", evidence.pk)).status_code == 404


def test_it_labels_orders_in_the_picker_with_customer_and_amount(s0, agent):
    order = make_order(s0, email="picker@example.com", amount="19.90")
    response = client_for(agent).get(reverse("admin:autocomplete"), {
        "term": "picker@", "app_label": "cases", "model_name": "refundcase", "field_name": "order"})
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"id": str(order.pk), "text": f"#{order.number} · picker@example.com · 19.90 USD"}]


def test_it_shows_evidence_on_the_case_page_only_to_those_who_may_view_it(s0, agent):
    from django.contrib.auth.models import Permission

    from tests.conftest import make_user

    case = open_case(s0, reason="other")
    evidence_add(case=case, kind="screenshot", actor=agent, from_customer=True, text="PASTED-ROUTER-PASSWORD hunter2",
                 upload=SimpleUploadedFile("s.png", png(), content_type="image/png"))
    reader = make_user("rita")
    reader.user_permissions.add(Permission.objects.get(codename="view_refundcase", content_type__app_label="cases"))
    response = client_for(reader).get(case_url(case))
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["evidence"] == []
    assert "PASTED-ROUTER-PASSWORD" not in html and 'id="evidence"' not in html
    assert "PASTED-ROUTER-PASSWORD" in client_for(agent).get(case_url(case)).content.decode()
