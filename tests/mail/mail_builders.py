"""Real e-mail messages, as a customer's mail program would send them, and mailboxes to hold them."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from django.utils import timezone


def refund_mail(
    *, sender: str, to: str, subject: str = "Refund Request", body: str = "It does not work.",
    images: list[tuple[str, bytes]] = (), message_id: str | None = "auto", headers: dict | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = f"A Customer <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(timezone.now())
    if message_id == "auto":
        message_id = make_msgid(domain="customer.example")
    if message_id:
        message["Message-ID"] = message_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for name, content in images:
        subtype = name.rsplit(".", 1)[-1].lower().replace("jpg", "jpeg")
        message.add_attachment(content, maintype="image", subtype=subtype, filename=name)
    return message.as_bytes()


def make_maildir(root: Path) -> Path:
    mailbox.Maildir(root, create=True)
    return root


def deliver_to_maildir(root: Path, raw: bytes) -> str:
    return mailbox.Maildir(root, create=False).add(raw)


def files_in(root: Path, folder: str = "") -> list[Path]:
    base = root / f".{folder}" if folder else root
    return [p for sub in ("new", "cur") if (base / sub).is_dir() for p in (base / sub).iterdir()]


def nested_mail(*, sender: str, to: str, levels: int) -> bytes:
    """A message with ``levels`` multipart parts, each inside the one before: a parser's worst case."""
    lines = [f"From: {sender}", f"To: {to}", "Subject: Refund Request", "MIME-Version: 1.0",
             'Content-Type: multipart/mixed; boundary="b0"', ""]
    for level in range(1, levels):
        lines += [f"--b{level - 1}", f'Content-Type: multipart/mixed; boundary="b{level}"', ""]
    lines += [f"--b{levels - 1}", "Content-Type: text/plain", "", "hello"]
    lines += [f"--b{level}--" for level in reversed(range(levels))]
    return "\n".join(lines).encode() + b"\n"
