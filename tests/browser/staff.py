"""Signing a member of staff in through the admin's login form, as a person would."""

from __future__ import annotations


def sign_in(page, base_url: str, user, then: str) -> None:
    """Log ``user`` (made by ``tests.conftest.make_user``, password ``pw-<username>``) in and go to ``then``."""
    page.goto(f"{base_url}/admin/login/?next={then}")
    page.fill("#id_username", user.username)
    page.fill("#id_password", f"pw-{user.username}")
    page.click("input[type=submit]")
