"""The set-up QR code as an inline SVG image: drawn here, nothing fetched, no script."""

from __future__ import annotations

import segno


def qr_data_uri(text: str) -> str:
    """A ``data:image/svg+xml`` address for an ``<img>`` (the Content-Security-Policy allows ``data:`` images).

    Black on white with the standard four-module quiet zone, in the dark theme too: phone cameras
    read that best.
    """
    return segno.make(text, error="m").svg_data_uri(scale=4, border=4, dark="#000", light="#fff")
