"""Login brute force (django-axes) and the Content-Security-Policy header."""

from datetime import timedelta

from axes.models import AccessAttempt
from django.test import Client

LOGIN = "/admin/login/"


def attempt(client: Client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_it_locks_a_user_out_after_repeated_wrong_passwords(agent):
    client = Client()
    for _ in range(40):
        attempt(client, "alice", "wrong")
    response = attempt(client, "alice", "pw-alice")
    assert response.status_code == 429
    assert "Sign-in temporarily locked" in response.content.decode()
    assert not logged_in(client)


def test_it_does_not_lock_another_user_from_the_same_address(agent, agent2):
    for _ in range(40):
        attempt(Client(), "alice", "wrong")
    client = Client()
    response = attempt(client, "arthur", "pw-arthur")
    assert response.status_code == 302
    assert logged_in(client)


def test_it_lets_the_user_in_again_after_the_cool_off(agent, settings):
    for _ in range(40):
        attempt(Client(), "alice", "wrong")
    assert attempt(Client(), "alice", "pw-alice").status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME
                                 - timedelta(seconds=1))
    client = Client()
    assert attempt(client, "alice", "pw-alice").status_code == 302
    assert logged_in(client)


def test_it_sends_a_content_security_policy_on_the_login_page(db):
    response = Client().get(LOGIN)
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy


def test_it_sends_a_content_security_policy_on_admin_pages(admin_client):
    for url in ("/admin/", "/admin/cases/refundcase/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], url


def test_it_sends_a_permissions_policy_on_every_response(s0, admin_client):
    responses = [
        Client().get(LOGIN),
        Client().get(f"/portal/{s0.slug}/"),
        Client().get("/portal/no-such-shop/"),
        Client().get("/nowhere/"),
        Client(enforce_csrf_checks=True).post(f"/portal/{s0.slug}/", {}),  # no CSRF token: Django's 403 page
        admin_client.get("/admin/"),
    ]
    for response in responses:
        policy = response.headers.get("Permissions-Policy", "")
        for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"):
            assert feature in policy, (response.status_code, policy)
