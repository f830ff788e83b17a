"""Who may see a case: only the holder of a live link to it. Expired, revoked and foreign links are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cases.customer_links import find_link, hash_secret
from cases.evidence import evidence_add
from cases.models import CaseLink, Evidence
from tests.admin.conftest import client_for
from tests.portal.conftest import case_url, case_with_link, links_in, png

pytestmark = pytest.mark.django_db


def customer_file(case, name="shot.png") -> Evidence:
    return evidence_add(case=case, kind="screenshot", upload=png(name), from_customer=True)


def test_it_stores_only_a_hash_of_the_link_and_enough_randomness(s0):
    case, secret = case_with_link(s0)
    link = CaseLink.objects.get(case=case)
    assert link.token_hash == hash_secret(secret) and secret not in link.token_hash
    assert len(secret) >= 32  # 24 random bytes, URL-safe: 192 bits
    assert not CaseLink.objects.filter(token_hash=secret).exists()
    assert link.expires_at - link.created_at == timedelta(days=30)


def test_it_refuses_an_expired_link_with_a_page_that_offers_a_new_one(s0, customer):
    case, secret = case_with_link(s0)
    CaseLink.objects.filter(case=case).update(created_at=timezone.now() - timedelta(days=31),
                                              expires_at=timezone.now() - timedelta(days=1))
    response = customer.get(case_url(secret))
    body = response.content.decode()
    assert response.status_code == 410
    assert "This link has expired" in body and reverse("portal:link", args=[s0.slug]) in body
    assert case.number not in body
    assert customer.post(case_url(secret, "upload"), {"files": [png()]}).status_code == 410


def test_it_honours_the_link_days_setting(s0, settings):
    settings.PORTAL_LINK_DAYS = 2
    case, _ = case_with_link(s0)
    link = CaseLink.objects.get(case=case)
    assert link.expires_at - link.created_at == timedelta(days=2)


def test_it_refuses_a_revoked_link_and_its_files(s0, agent, customer):
    from cases.customer_links import case_link_revoke

    case, secret = case_with_link(s0)
    evidence = customer_file(case)
    case_link_revoke(case=case, actor=agent)
    response = customer.get(case_url(secret))
    assert response.status_code == 410 and "no longer valid" in response.content.decode()
    assert case.number not in response.content.decode()
    assert customer.get(case_url(secret, "file", evidence.pk)).status_code == 410


@pytest.mark.parametrize("token", ["x" * 40, "short", "a" * 200, "../../admin", "%00" * 12])
def test_it_answers_an_unknown_link_with_a_404_page(db, customer, token):
    response = customer.get(f"/portal/c/{token}/")
    assert response.status_code == 404
    assert find_link(token).status == "unknown"


def test_it_keeps_link_a_out_of_case_b(s0, customer):
    case_a, secret_a = case_with_link(s0)
    case_b, secret_b = case_with_link(s0)
    file_b = customer_file(case_b, "b.png")
    body = customer.get(case_url(secret_a)).content.decode()
    assert case_b.number not in body and "b.png" not in body
    # B's file through A's link: no such file on A's case.
    assert customer.get(case_url(secret_a, "file", file_b.pk)).status_code == 404
    assert customer.get(case_url(secret_a, "thumbnail", file_b.pk)).status_code == 404
    # Uploading through A's link lands on A, never on B.
    customer.post(case_url(secret_a, "upload"), {"files": [png("a.png")]})
    assert not case_b.evidence.filter(original_name="a.png").exists()
    assert case_a.evidence.filter(original_name="a.png").exists()


def test_it_serves_the_customers_own_file_with_safe_headers(s0, customer):
    case, secret = case_with_link(s0)
    evidence = customer_file(case)
    response = customer.get(case_url(secret, "file", evidence.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response
    thumb = customer.get(case_url(secret, "thumbnail", evidence.pk))
    assert thumb.status_code == 200 and thumb["Content-Type"] in ("image/png", "image/jpeg")


def test_it_never_serves_staff_proof_of_service_to_the_customer(s0, agent, customer):
    case, secret = case_with_link(s0)
    proof = evidence_add(case=case, kind="proof_of_service", text="conn log", upload=png("log.png"), actor=agent)
    assert customer.get(case_url(secret, "file", proof.pk)).status_code == 404
    assert "log.png" not in customer.get(case_url(secret)).content.decode()


def test_it_refuses_staff_without_the_view_permission_the_files(s0, outsider, agent):
    case, _ = case_with_link(s0)
    evidence = customer_file(case)
    url = reverse("admin:cases_refundcase_evidence_file", args=[case.pk, evidence.pk])
    assert client_for(outsider).get(url).status_code in (302, 403)
    assert client_for(agent).get(url).status_code == 200


def test_it_records_which_link_opened_the_case(s0, agent, customer):
    case, secret = case_with_link(s0)
    customer.get(case_url(secret))
    customer.get(case_url(secret))
    link = CaseLink.objects.get(case=case)
    assert link.uses == 2 and link.last_used_at is not None
    admin_page = client_for(agent).get(reverse("admin:cases_refundcase_change", args=[case.pk])).content.decode()
    assert f"…{link.hint}" in admin_page and "Opened 2×" in admin_page


def test_it_lets_staff_revoke_and_reissue_a_link_from_the_case_page(
    s0, agent, customer, mailoutbox, django_capture_on_commit_callbacks
):
    case, old = case_with_link(s0)
    staff = client_for(agent)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(reverse("admin:cases_refundcase_links_reissue", args=[case.pk]))
    assert response.status_code == 302
    [new] = links_in(mailoutbox)
    assert mailoutbox[0].to == [case.order.customer.email]
    assert customer.get(case_url(old)).status_code == 410
    assert customer.get(new).status_code == 200
    assert case.events.filter(kind="link", actor=agent).exists()
    live = CaseLink.objects.get(case=case, revoked_at__isnull=True)
    staff.post(reverse("admin:cases_refundcase_links_revoke", args=[case.pk]), {"link": live.pk})
    assert customer.get(new).status_code == 410


def test_it_refuses_link_changes_to_staff_without_the_work_permission(s0, outsider, customer):
    case, secret = case_with_link(s0)
    viewer = type(outsider).objects.get(pk=outsider.pk)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_refundcase"))
    viewer = type(outsider).objects.get(pk=outsider.pk)
    client = client_for(viewer)
    client.post(reverse("admin:cases_refundcase_links_revoke", args=[case.pk]))
    client.post(reverse("admin:cases_refundcase_links_reissue", args=[case.pk]))
    assert customer.get(case_url(secret)).status_code == 200
    assert CaseLink.objects.filter(case=case).count() == 1


def test_it_refuses_a_forged_link_change_without_csrf(s0, agent, customer):
    case, secret = case_with_link(s0)
    forger = Client(enforce_csrf_checks=True)
    forger.force_login(agent)
    response = forger.post(reverse("admin:cases_refundcase_links_revoke", args=[case.pk]))
    assert response.status_code == 403
    assert customer.get(case_url(secret)).status_code == 200


def test_it_sends_the_link_again_to_the_orders_address_only(
    s0, customer, mailoutbox, django_capture_on_commit_callbacks
):
    case, old = case_with_link(s0)
    url = reverse("portal:link", args=[s0.slug])
    order = case.order
    with django_capture_on_commit_callbacks(execute=True):
        real = customer.post(url, {"order_number": order.number, "email": order.customer.email.upper()})
        wrong = customer.post(url, {"order_number": order.number, "email": "thief@example.com"})
        fake = customer.post(url, {"order_number": "NOPE", "email": order.customer.email.upper()})
    assert real.status_code == wrong.status_code == fake.status_code == 200
    assert real.content.replace(b"csrf", b"") == fake.content.replace(b"csrf", b"")
    assert [m.to for m in mailoutbox] == [[order.customer.email]]
    [new] = links_in(mailoutbox)
    assert customer.get(new).status_code == 200 and customer.get(case_url(old)).status_code == 200
