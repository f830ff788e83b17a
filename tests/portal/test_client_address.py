"""Rate limits and the login lockout count per client address, read behind the configured proxies."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
PROXY = "10.0.0.2"


def ask_link(storefront, *, forwarded: str | None = None, remote: str = PROXY, email: str = "a@example.com"):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    url = reverse("portal:link", args=[storefront.slug])
    return Client(**headers).post(url, {"order_number": "X", "email": email}).status_code


def fresh_emails():
    return (f"c{n}@example.com" for n in range(100))


def test_it_ignores_a_forged_forwarded_for_when_no_proxy_is_configured(s0, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.PORTAL_RATE_LIMITS = {"link_ip": (2, 3600)}
    emails = fresh_emails()
    codes = [ask_link(s0, forwarded=f"198.51.100.{n}", remote="203.0.113.5", email=next(emails)) for n in range(3)]
    assert codes == [200, 200, 429]


def test_it_gives_each_customer_behind_the_proxy_a_bucket_of_their_own(s0, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.PORTAL_RATE_LIMITS = {"link_ip": (2, 3600)}
    emails = fresh_emails()
    first = [ask_link(s0, forwarded="198.51.100.1", email=next(emails)) for _ in range(3)]
    other = ask_link(s0, forwarded="198.51.100.2", email=next(emails))
    assert first == [200, 200, 429]
    assert other == 200


def test_it_takes_only_the_address_the_trusted_proxy_wrote(s0, settings):
    """Entries left of the trusted hops are the client's own words: changing them changes nothing."""
    settings.TRUSTED_PROXY_COUNT = 2
    settings.PORTAL_RATE_LIMITS = {"link_ip": (2, 3600)}
    emails = fresh_emails()
    codes = [
        ask_link(s0, forwarded=f"192.0.2.{n}, 198.51.100.7, 10.0.0.1", email=next(emails)) for n in range(3)
    ]
    assert codes == [200, 200, 429]
    # A client reaching the server past the proxies cannot pick its bucket either: too few hops means
    # the proxies were bypassed, and then only the connection's address counts.
    assert ask_link(s0, forwarded="198.51.100.99", remote="192.0.2.50", email=next(emails)) == 200
    assert ask_link(s0, forwarded="198.51.100.98", remote="192.0.2.50", email=next(emails)) == 200
    assert ask_link(s0, forwarded="198.51.100.97", remote="192.0.2.50", email=next(emails)) == 429


def test_it_ignores_a_forwarded_entry_that_is_not_an_address(s0, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.PORTAL_RATE_LIMITS = {"link_ip": (1, 3600)}
    emails = fresh_emails()
    assert ask_link(s0, forwarded="not-an-address", email=next(emails)) == 200
    assert ask_link(s0, forwarded="<script>", email=next(emails)) == 429  # both fell back to the proxy's


def login(username: str, password: str, *, forwarded: str, remote: str = PROXY):
    client = Client(REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})


def test_it_locks_out_only_the_address_behind_the_proxy_that_guessed(agent, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(10):
        login("alice", "wrong", forwarded="198.51.100.1")
    assert login("alice", "pw-alice", forwarded="198.51.100.1").status_code == 429
    # Alice herself, from her own address through the same proxy, still gets in.
    assert login("alice", "pw-alice", forwarded="198.51.100.2").status_code == 302


def test_it_does_not_let_a_forged_forwarded_for_escape_the_lockout(agent, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(10):
        login("alice", "wrong", forwarded=f"198.51.100.{n}", remote="203.0.113.9")
    assert login("alice", "pw-alice", forwarded="198.51.100.200", remote="203.0.113.9").status_code == 429
