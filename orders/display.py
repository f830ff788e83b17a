"""Small pieces of HTML the admin lists share."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString


def breakable_email(email: str) -> SafeString:
    """The address with a line-break opportunity before the "@": a narrow column wraps it there
    rather than in the middle of a word."""
    local, at, domain = email.partition("@")
    if not at:
        return format_html("{}", email)
    return format_html("{}<wbr>@{}", local, domain)
