"""Staff's second factor: setting up an app, the code after the password, wrong codes and the lockout,
backup codes, a manager's reset, and who must have one (docs/two-factor.md)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape as html_unescape

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.demo import LOGINS
from cases import services
from cases.models import RefundCase
from core.models import SecondFactorReset
from core.second_factor import devices
from core.second_factor.qr import qr_data_uri
from tests.admin.admin_world import build_world
from tests.admin.conftest import act_url, case_url, open_case
from tests.admin.test_admin_permissions import admin_urls, path_of
from tests.conftest import make_user

LOGIN = reverse("admin:login")
VERIFY = reverse("admin:second_factor_verify")
ENROL = reverse("admin:second_factor_enrol")
CODES = reverse("admin:second_factor_backup_codes")
STAFF = reverse("admin:second_factor_staff")
ADDRESS = "203.0.113.9"


def reset_url(user) -> str:
    return reverse("admin:second_factor_reset", args=[user.pk])


def sign_in(user, *, address: str = ADDRESS, client: Client | None = None) -> Client:
    """The password step through the admin's login form, as a person (and the lockout) sees it."""
    client = client or Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": user.username, "password": f"pw-{user.username}", "next": "/admin/"})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def code_of(device: TOTPDevice, *, later: int = 0) -> str:
    """What the phone shows now (``later`` steps of 30 s ahead)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + later):06d}"


def wrong_code(device: TOTPDevice, n: int = 0) -> str:
    """A six-digit code the app shows neither now nor one step either side (django-otp's tolerance)."""
    shown = {code_of(device, later=step) for step in (-1, 0, 1)}
    return next(code for code in (f"{n + k * 7919:06d}"[-6:] for k in range(10)) if code not in shown)


def app_for(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name=devices.APP_NAME, confirmed=True)


def enter(client: Client, code: str, next_url: str = "/admin/"):
    return client.post(VERIFY, {"code": code, "next": next_url})


def let_back_off_pass(user) -> None:
    """django-otp waits 1, 2, 4 ... seconds after each wrong code; a person typing takes that long anyway."""
    for model in (TOTPDevice, StaticDevice):
        for device in model.objects.filter(user=user, throttling_failure_count__gt=0):
            wait = timedelta(seconds=2 ** (device.throttling_failure_count - 1) + 1)
            model.objects.filter(pk=device.pk).update(throttling_failure_timestamp=timezone.now() - wait)


def messages_in(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


@pytest.fixture
def required(settings):
    settings.OTP_REQUIRED_FOR_PRIVILEGED = True


# --- setting up an app -------------------------------------------------------------------------


def test_it_sets_up_an_app_from_a_qr_code_and_shows_the_backup_codes_once(agent):
    client = sign_in(agent)
    page = client.get(ENROL)
    html = page.content.decode()
    assert page.status_code == 200
    key = client.session["second_factor_new_key"]
    address = devices.setup_url(user=agent, key=key)
    assert address.startswith("otpauth://totp/Refund%20back%20office%3Aalice?secret=")
    assert "issuer=Refund%20back%20office" in address and "digits=6" in address and "period=30" in address
    qr = html_unescape(re.search(r'<img class="rb-sf-qr" src="([^"]+)"', html).group(1))
    assert qr.startswith("data:image/svg+xml") and qr == qr_data_uri(address)
    typed = re.search(r'<code class="rb-sf-secret" id="secret">([A-Z2-7 ]+)</code>', html).group(1)
    assert typed == devices.secret_for_typing(key) and len(typed.replace(" ", "")) == 32
    assert "Refund back office: alice" in html

    phone = TOTPDevice(key=key)
    response = client.post(ENROL, {"code": code_of(phone)})

    assert response.status_code == 302 and response["Location"] == CODES
    app = TOTPDevice.objects.get(user=agent)
    assert app.confirmed and app.key == key
    shown = re.findall(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4})</code></li>", client.get(CODES).content.decode())
    assert len(shown) == 10
    assert sorted(c.replace("-", "") for c in shown) == sorted(StaticToken.objects.filter(device__user=agent)
                                                                .values_list("token", flat=True))
    again = client.get(CODES).content.decode()
    assert not re.findall(r"<li><code>", again) and "10</strong> unused backup codes" in again
    assert client.get("/admin/").status_code == 200  # the session that set it up counts as verified


def test_it_keeps_nothing_when_the_set_up_code_is_wrong(agent):
    client = sign_in(agent)
    client.get(ENROL)
    response = client.post(ENROL, {"code": wrong_code(TOTPDevice(key=client.session["second_factor_new_key"]))})
    assert response.status_code == 200
    assert "That code does not match" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=agent).exists()
    assert not StaticDevice.objects.filter(user=agent).exists()


def test_it_sends_the_set_up_page_with_a_policy_that_allows_its_qr_code_and_no_inline_script(agent):
    response = sign_in(agent).get(ENROL)
    policy = response.headers["Content-Security-Policy"]
    assert "img-src 'self' data:" in policy and "'unsafe-inline'" not in policy
    html = response.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert " style=" not in html
    assert not re.search(r'(?:src|href)="https?://', html), "a request to another site"


def test_it_asks_for_the_current_app_before_a_new_one_is_set_up(agent):
    app_for(agent)
    client = sign_in(agent)
    response = client.get(ENROL)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert client.post(ENROL, {"code": "123456"}).status_code == 302
    assert TOTPDevice.objects.filter(user=agent).count() == 1


def test_it_replaces_the_app_and_keeps_the_backup_codes_once_verified(agent):
    old = app_for(agent)
    devices.backup_codes_renew(user=agent)
    client = sign_in(agent)
    assert enter(client, code_of(old)).status_code == 302
    client.get(ENROL)
    new = TOTPDevice(key=client.session["second_factor_new_key"])
    response = client.post(ENROL, {"code": code_of(new)}, follow=True)
    assert "the old one no longer works" in messages_in(response)
    assert list(TOTPDevice.objects.filter(user=agent).values_list("key", flat=True)) == [new.key]
    assert devices.backup_codes_left(agent) == 10


# --- the code after the password ---------------------------------------------------------------


def test_it_asks_for_the_code_after_the_password_and_then_opens_the_page_asked_for(agent, s0):
    app = app_for(agent)
    case = open_case(s0)
    client = sign_in(agent)

    response = client.get(case_url(case))
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next={case_url(case).replace('/', '%2F')}"
    page = client.get(response["Location"])
    assert page.status_code == 200 and "Enter your code" in page.content.decode()

    signed = enter(client, code_of(app), next_url=case_url(case))
    assert signed.status_code == 302 and signed["Location"] == case_url(case)
    assert client.get(case_url(case)).status_code == 200
    assert client.get("/admin/").status_code == 200


def test_it_refuses_a_wrong_code_and_counts_it_like_a_wrong_password(agent):
    app = app_for(agent)
    client = sign_in(agent)
    response = enter(client, wrong_code(app))

    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    assert client.get("/admin/").status_code == 302
    app.refresh_from_db()
    assert app.throttling_failure_count == 1
    attempt = AccessAttempt.objects.get(username="alice", ip_address=ADDRESS)
    assert attempt.failures_since_start == 1 and attempt.path_info == VERIFY


def test_it_asks_to_wait_when_a_second_wrong_code_follows_at_once(agent):
    app = app_for(agent)
    client = sign_in(agent)
    enter(client, wrong_code(app))
    response = enter(client, code_of(app))
    assert "Wait a few seconds" in response.content.decode()
    assert client.get("/admin/").status_code == 302


def test_it_locks_the_sign_in_after_too_many_wrong_codes_with_a_clear_page(agent, settings):
    app = app_for(agent)
    client = sign_in(agent)
    for attempt in range(settings.OTP_FAILURE_LIMIT):
        let_back_off_pass(agent)
        response = enter(client, wrong_code(app, attempt))

    assert response.status_code == 429
    assert "Sign-in temporarily locked" in response.content.decode()
    assert client.get("/admin/").status_code == 302 and client.get("/admin/")["Location"].startswith(LOGIN)
    # The password from the same address is refused by the login lockout ...
    refused = Client(REMOTE_ADDR=ADDRESS).post(LOGIN, {"username": "alice", "password": "pw-alice"})
    assert refused.status_code == 429
    # ... and from anywhere else, the password lets in but the right code is still refused.
    elsewhere = sign_in(agent, address="198.51.100.4")
    let_back_off_pass(agent)
    locked = enter(elsewhere, code_of(app))
    assert locked.status_code == 429
    assert "Too many wrong codes" in locked.content.decode()
    assert elsewhere.get("/admin/")["Location"].startswith(LOGIN)


def test_it_lets_the_right_code_in_after_the_lock_runs_out(agent, settings):
    app = app_for(agent)
    TOTPDevice.objects.filter(pk=app.pk).update(
        throttling_failure_count=settings.OTP_FAILURE_LIMIT,
        throttling_failure_timestamp=timezone.now() - settings.OTP_LOCKOUT_TIME - timedelta(hours=200),
    )
    client = sign_in(agent)
    assert enter(client, code_of(app)).status_code == 302
    assert client.get("/admin/").status_code == 200
    app.refresh_from_db()
    assert app.throttling_failure_count == 0


def test_it_takes_each_backup_code_once(agent):
    app_for(agent)
    code = devices.backup_codes_renew(user=agent)[0]
    client = sign_in(agent)

    response = enter(client, f"{code[:4].upper()}-{code[4:].upper()}")
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert devices.backup_codes_left(agent) == 9

    again = sign_in(agent, address="198.51.100.4")
    assert "That code is not right" in enter(again, code).content.decode()
    assert again.get("/admin/").status_code == 302


def test_it_does_not_take_a_code_that_already_signed_in(agent):
    app = app_for(agent)
    code = code_of(app)
    assert enter(sign_in(agent), code).status_code == 302
    assert "That code is not right" in enter(sign_in(agent, address="198.51.100.4"), code).content.decode()


# --- who must have one -------------------------------------------------------------------------


def test_it_sends_a_privileged_user_without_an_app_to_set_one_up_from_every_admin_page(required, s0, s1, media,
                                                                                        settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    world = build_world(s0, s1)
    manager = world.users["manager"]
    client = sign_in(manager)
    passed = []
    for url in admin_urls():
        if url.name in (None, "login", "logout", "second_factor_enrol", "second_factor_verify"):
            continue
        path = path_of(url, world)
        for method in ("GET", "POST"):
            response = client.post(path, {}) if method == "POST" else client.get(path)
            if response.status_code != 302 or not response["Location"].startswith(ENROL):
                passed.append(f"{method} {path}: {response.status_code}")
    assert passed == []
    case = world.case
    client.post(act_url(case, "deny"), {"deny-reason": "other", "deny-note": "No."})
    assert RefundCase.objects.get(pk=case.pk).state == case.state
    assert client.get(ENROL).status_code == 200
    assert client.post(reverse("admin:logout")).status_code in (200, 302)


def test_it_asks_a_privileged_user_with_an_app_for_the_code_before_paying(required, s0, manager, manager2, agent):
    app = app_for(manager2)
    case = open_case(s0)
    services.case_approve(case=case, actor=agent)
    client = sign_in(manager2)
    pay = {"pay-expected_state": "approved", "pay-reference": "re_1", "pay-method": "card"}
    response = client.post(act_url(case, "pay"), pay)
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert RefundCase.objects.get(pk=case.pk).state == "approved"
    assert enter(client, code_of(app)).status_code == 302
    client.post(act_url(case, "pay"), pay)
    assert RefundCase.objects.get(pk=case.pk).state == "paid"


def test_it_does_not_force_an_agent_without_privileged_permissions(required, agent, s0):
    client = sign_in(agent)
    assert client.get("/admin/").status_code == 200
    assert client.get(case_url(open_case(s0))).status_code == 200


def test_it_reads_who_is_privileged_from_the_one_list_in_the_settings(required, agent, settings):
    settings.OTP_PRIVILEGED_PERMISSIONS = [*settings.OTP_PRIVILEGED_PERMISSIONS, "cases.work_refundcase"]
    response = sign_in(agent).get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(ENROL)


def test_it_lets_the_demo_logins_in_with_their_password_locally(db):
    assert django_settings.OTP_REQUIRED_FOR_PRIVILEGED is False  # no DJANGO_ENV: a local run
    for login in LOGINS:
        from django.contrib.auth.models import User

        user = User.objects.create_user(login.username, password=login.password, is_staff=True,
                                        is_superuser=login.superuser)
        if login.group:
            user.groups.add(Group.objects.get(name=login.group))
        client = Client()
        assert client.post(LOGIN, {"username": login.username, "password": login.password}).status_code == 302
        assert client.get("/admin/").status_code == 200, login.username
        assert client.get(reverse("admin:cases_refundcase_changelist")).status_code == 200, login.username


def test_it_asks_anyone_who_set_up_an_app_for_the_code_even_where_not_required(agent, manager):
    app_for(agent)
    assert sign_in(agent).get("/admin/")["Location"].startswith(VERIFY)
    assert sign_in(manager).get("/admin/").status_code == 200  # no app, nothing required locally


# --- a manager's reset -------------------------------------------------------------------------


def test_it_lets_a_manager_reset_a_colleagues_lost_device_and_records_it(agent, manager):
    app_for(agent)
    devices.backup_codes_renew(user=agent)
    client = sign_in(manager)
    staff = client.get(STAFF).content.decode()
    assert reset_url(agent) in staff and reset_url(manager) not in staff
    confirm = client.get(reset_url(agent)).content.decode()
    assert "10 unused backup codes" in confirm

    response = client.post(reset_url(agent), follow=True)

    assert "removed the authenticator app and 10 unused backup codes" in messages_in(response)
    assert not TOTPDevice.objects.filter(user=agent).exists()
    assert not StaticDevice.objects.filter(user=agent).exists()
    record = SecondFactorReset.objects.get(user=agent)
    assert record.reset_by == manager
    assert timezone.now() - record.reset_at < timedelta(minutes=1)
    assert sign_in(agent).get("/admin/").status_code == 200  # password alone, nothing required locally


def test_it_ends_the_verified_sessions_of_a_reset_user_when_required(required, manager, manager2):
    app = app_for(manager2)
    theirs = sign_in(manager2)
    enter(theirs, code_of(app))
    assert theirs.get("/admin/").status_code == 200
    app2 = app_for(manager)
    mine = sign_in(manager)
    enter(mine, code_of(app2))
    mine.post(reset_url(manager2))
    response = theirs.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith(ENROL)


def test_it_refuses_a_reset_to_an_agent(agent, agent2):
    app_for(agent2)
    client = sign_in(agent)
    assert client.get(STAFF).status_code == 403
    assert client.get(reset_url(agent2)).status_code == 403
    assert client.post(reset_url(agent2)).status_code == 403
    assert TOTPDevice.objects.filter(user=agent2).exists()
    assert not SecondFactorReset.objects.exists()


def test_it_refuses_a_forged_reset_post(agent, agent2, manager):
    app_for(agent2)
    # Someone else's page posting in a manager's browser: no CSRF token.
    forged = Client(enforce_csrf_checks=True, REMOTE_ADDR=ADDRESS)
    forged.force_login(manager)
    assert forged.post(reset_url(agent2)).status_code == 403
    # An agent with a valid token of their own, but without the permission.
    client = Client(enforce_csrf_checks=True, REMOTE_ADDR=ADDRESS)
    client.force_login(agent)
    client.get("/admin/")
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert client.post(reset_url(agent2), {"csrfmiddlewaretoken": token}).status_code == 403
    assert TOTPDevice.objects.filter(user=agent2).exists()
    assert not SecondFactorReset.objects.exists()


def test_it_refuses_a_manager_their_own_reset_and_a_superusers(manager):
    root = make_user("root", is_superuser=True)
    app_for(manager)
    app_for(root)
    client = Client()
    client.force_login(manager)
    enter(client, code_of(TOTPDevice.objects.get(user=manager)))
    response = client.post(reset_url(manager), follow=True)
    assert "cannot reset your own second factor" in messages_in(response)
    assert client.post(reset_url(root)).status_code == 403
    assert TOTPDevice.objects.filter(user__in=[manager, root]).count() == 2
    assert not SecondFactorReset.objects.exists()
