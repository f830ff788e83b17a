"""The only addresses the product calls: a connection's, https:// but on the machine's own loopback."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit


class BadAddress(ValueError):
    """A URL no connection may hold; the message says why (and never repeats credentials)."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: where tests and local shops answer, nowhere else."""
    name = host.lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def connection_url(raw: str) -> str:
    """``raw`` as a connection stores it: ``https://host[:port][/path]``, no trailing slash.

    Plain ``http://`` only on a loopback address; never credentials, a query or a fragment (the
    credentials go in the Authorization header only).
    """
    text = (raw or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise BadAddress("is not a URL (https://shop.example.com)") from None
    if parts.username is not None or parts.password is not None:
        raise BadAddress("holds credentials: they never go in a URL; give them as their own options")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadAddress(f"{text!r} is not a URL (https://shop.example.com)")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise BadAddress(f"{text!r} is plain http://: a shop is called over https:// only "
                         "(http:// only on loopback addresses)")
    if parts.query or parts.fragment:
        raise BadAddress(f"{text!r} has a query or a fragment: give the shop's address only")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
