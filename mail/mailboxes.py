"""Where intake mail is read from: an IMAP mailbox over TLS, a Maildir, or an mbox file.

Each source lists the messages it still holds, by a UID that stays the same across runs, and puts a
handled message away: moved to a "processed" folder (IMAP, Maildir) or flagged (IMAP without one,
mbox), and a failed one to a "failed" folder or flag. A source never deletes a message.

Configured by URL (``INTAKE_MAILBOXES`` in settings, see docs/mail.md)::

    imaps://user:password@imap.example.com:993/INBOX?storefront=iptv-smarters-pro
    imap+starttls://user:password@imap.example.com:143/INBOX?processed=Done&failed=Failed
    maildir:///var/mail/support?storefront=smarters-pro
    mbox:///var/mail/support.mbox
"""

from __future__ import annotations

import hashlib
import mailbox as stdlib_mailbox
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DONE_KEYWORD = "$RefundIntakeDone"
FAILED_KEYWORD = "$RefundIntakeFailed"


class MailboxConfigError(ValueError):
    pass


@dataclass(frozen=True)
class MailboxConfig:
    kind: str  # "imap", "maildir" or "mbox"
    name: str  # how the intake's records name this mailbox: the URL without its password
    storefront: str = ""  # a storefront slug; empty: found from the recipient address
    host: str = ""
    port: int = 0
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    folder: str = "INBOX"
    starttls: bool = False
    cafile: str = ""
    path: str = ""
    processed: str = "Processed"
    failed: str = "Failed"
    address: str = ""  # the address it receives for (``address=``, or an IMAP user name that is one)


def parse_mailbox_url(url: str) -> MailboxConfig:
    parts = urlsplit(url.strip())
    query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
    storefront = query.get("storefront", "")
    processed = query.get("processed", "Processed")
    failed = query.get("failed", "Failed")
    address = query.get("address", "")
    if parts.scheme in ("imaps", "imap+starttls"):
        if not parts.hostname or not parts.username:
            raise MailboxConfigError(f"{parts.scheme} mailbox needs a user and a host: {parts.scheme}://user:password@host/")
        starttls = parts.scheme == "imap+starttls"
        port = parts.port or (143 if starttls else 993)
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
        username = unquote(parts.username)
        return MailboxConfig(
            kind="imap", name=f"{parts.scheme}://{username}@{parts.hostname}:{port}/{folder}", storefront=storefront,
            host=parts.hostname, port=port, username=username, password=unquote(parts.password or ""),
            folder=folder, starttls=starttls, cafile=query.get("cafile", ""), processed=processed, failed=failed,
            address=address or (username if "@" in username else ""),
        )
    if parts.scheme == "imap":
        raise MailboxConfigError("IMAP without TLS is refused: use imaps:// or imap+starttls://")
    if parts.scheme in ("maildir", "mbox"):
        path = unquote(parts.path)
        if not path:
            raise MailboxConfigError(f"{parts.scheme} mailbox needs a path: {parts.scheme}:///var/mail/support")
        return MailboxConfig(kind=parts.scheme, name=f"{parts.scheme}://{path}", storefront=storefront, path=path,
                             processed=processed, failed=failed, address=address)
    raise MailboxConfigError(f"Unknown mailbox kind {parts.scheme!r}: use imaps, imap+starttls, maildir or mbox")


class Source:
    """One mailbox, opened for one run."""

    config: MailboxConfig

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def messages(self, limit: int) -> Iterator[tuple[str, bytes]]:
        raise NotImplementedError

    def done(self, uid: str) -> None:
        raise NotImplementedError

    def failed(self, uid: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def open_source(config: MailboxConfig) -> Source:
    return {"imap": ImapSource, "maildir": MaildirSource, "mbox": MboxSource}[config.kind](config)


class ImapSource(Source):
    """IMAP over TLS (imap-tools). UIDs are "UIDVALIDITY:UID", so a rebuilt mailbox starts afresh."""

    def __init__(self, config: MailboxConfig) -> None:
        from imap_tools import MailBox, MailBoxStartTls
        from imap_tools.errors import MailboxFolderCreateError

        self.config = config
        context = ssl.create_default_context(cafile=config.cafile or None)
        box_class = MailBoxStartTls if config.starttls else MailBox
        self.box = box_class(config.host, config.port, timeout=60, ssl_context=context)
        self.box.login(config.username, config.password, initial_folder=config.folder)
        self.validity = self.box.folder.status(config.folder, ["UIDVALIDITY"])["UIDVALIDITY"]
        for folder in (config.processed, config.failed):
            if folder and not self.box.folder.exists(folder):
                try:
                    self.box.folder.create(folder)
                except MailboxFolderCreateError:
                    # Two runs starting at once both saw it missing; the other one made it.
                    if not self.box.folder.exists(folder):
                        raise

    def messages(self, limit: int) -> Iterator[tuple[str, bytes]]:
        # Messages put away by keyword only (no folder) stay in the inbox; skip them by their keyword.
        # Seen or not does not matter: people read the support inbox too.
        criteria = f"UNKEYWORD {DONE_KEYWORD} UNKEYWORD {FAILED_KEYWORD}"
        for uid in self.box.uids(criteria)[:limit]:
            status, data = self.box.client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in data if isinstance(item, tuple)), None)
            if status == "OK" and raw is not None:
                yield f"{self.validity}:{uid}", raw

    def _put_away(self, uid: str, keyword: str, folder: str) -> None:
        imap_uid = uid.rpartition(":")[2]
        self.box.flag(imap_uid, keyword, True)
        if folder:
            self.box.move(imap_uid, folder)

    def done(self, uid: str) -> None:
        self._put_away(uid, DONE_KEYWORD, self.config.processed)

    def failed(self, uid: str) -> None:
        self._put_away(uid, FAILED_KEYWORD, self.config.failed)

    def close(self) -> None:
        try:
            self.box.logout()
        except Exception:  # noqa: BLE001 (the connection may already be gone; nothing is pending)
            pass


class MaildirSource(Source):
    """A Maildir's new/ and cur/; handled messages are renamed into its .Processed or .Failed folder."""

    def __init__(self, config: MailboxConfig) -> None:
        self.config = config
        self.root = Path(config.path)
        if not (self.root / "cur").is_dir() or not (self.root / "new").is_dir():
            raise MailboxConfigError(f"{config.path} is not a Maildir (no cur/ and new/)")
        self.files: dict[str, Path] = {}

    def messages(self, limit: int) -> Iterator[tuple[str, bytes]]:
        found = sorted((p for sub in ("new", "cur") for p in (self.root / sub).iterdir() if p.is_file()),
                       key=lambda p: p.name)
        for path in found[:limit]:
            uid = path.name.split(":", 1)[0]
            try:
                raw = path.read_bytes()
            except FileNotFoundError:  # another run put it away meanwhile
                continue
            self.files[uid] = path
            yield uid, raw

    def _move(self, uid: str, folder: str, flag: str) -> None:
        target = self.root / f".{folder}"
        for sub in ("cur", "new", "tmp"):
            (target / sub).mkdir(parents=True, exist_ok=True)
        try:
            os.rename(self.files[uid], target / "cur" / f"{uid}:2,{flag}")  # atomic on one file system
        except FileNotFoundError:
            pass  # another run moved it first

    def done(self, uid: str) -> None:
        self._move(uid, self.config.processed or "Processed", "S")

    def failed(self, uid: str) -> None:
        self._move(uid, self.config.failed or "Failed", "F")


class MboxSource(Source):
    """An mbox file, locked for the run; handled messages get the Read flag, failed ones Flagged.

    mbox keys are positions, so a message's UID is a digest of its bytes without its status headers.
    Messages are read and flagged as bytes: parsing one here would let a malformed message stop the
    run before the intake could keep it aside.
    """

    def __init__(self, config: MailboxConfig) -> None:
        self.config = config
        if not Path(config.path).is_file():
            raise MailboxConfigError(f"{config.path} is not an mbox file")
        self.box = stdlib_mailbox.mbox(config.path, create=False)
        self.box.lock()
        self.keys: dict[str, str] = {}
        self.changed = False

    def messages(self, limit: int) -> Iterator[tuple[str, bytes]]:
        count = 0
        for key in self.box.keys():
            raw = self.box.get_bytes(key)
            if set(_flags(raw)) & {"R", "F"}:
                continue
            uid = "sha256:" + hashlib.sha256(_without_status(raw)).hexdigest()
            self.keys[uid] = key
            yield uid, raw
            count += 1
            if count >= limit:
                return

    def _flag(self, uid: str, flag: str) -> None:
        key = self.keys[uid]
        self.box[key] = _with_flag(self.box.get_bytes(key, from_=True), flag)
        self.changed = True

    def done(self, uid: str) -> None:
        self._flag(uid, "R")

    def failed(self, uid: str) -> None:
        self._flag(uid, "F")

    def close(self) -> None:
        try:
            if self.changed:
                self.box.flush()
        finally:
            self.box.unlock()
            self.box.close()


# Where mbox keeps its flags, as mailbox.mboxMessage does: Read and Old in Status, the rest in X-Status.
STATUS_HEADERS = ("status", "x-status")


def _header_block(raw: bytes) -> tuple[bytes, bytes]:
    end = raw.find(b"\n\n")
    return (raw, b"") if end == -1 else (raw[: end + 1], raw[end + 1:])


def _flags(raw: bytes) -> str:
    parsed = BytesHeaderParser().parsebytes(_header_block(raw)[0] + b"\n")
    return "".join(str(parsed.get(name, "")) for name in STATUS_HEADERS)


def _with_flag(raw: bytes, flag: str) -> bytes:
    """The message's bytes (From_ line included) with ``flag`` added to its status headers."""
    from_line = b""
    if raw.startswith(b"From "):
        from_line, _, raw = raw.partition(b"\n")
        from_line += b"\n"
    headers, body = _header_block(raw)
    kept, flags, skipping = [], {"status": "", "x-status": ""}, False
    for line in headers.splitlines(keepends=True):
        if skipping and line[:1] in (b" ", b"\t"):
            continue
        name, colon, value = line.partition(b":")
        skipping = bool(colon) and name.strip().lower().decode("ascii", "replace") in STATUS_HEADERS
        if skipping:
            flags[name.strip().lower().decode("ascii")] += value.decode("ascii", "replace").strip()
        else:
            kept.append(line)
    header = "status" if flag in "RO" else "x-status"
    flags[header] += flag
    added = b"".join(
        f"{name.title()}: {''.join(sorted(set(value)))}\n".encode("ascii", "replace")
        for name, value in flags.items() if value
    )
    return from_line + b"".join(kept).rstrip(b"\n") + b"\n" + added + body


def _without_status(raw: bytes) -> bytes:
    headers, _, body = raw.partition(b"\n\n")
    parsed = BytesHeaderParser().parsebytes(headers + b"\n\n")
    kept = b"".join(f"{k}: {v}\n".encode("utf-8", "replace") for k, v in parsed.items()
                    if k.lower() not in ("status", "x-status"))
    return kept + b"\n" + body
