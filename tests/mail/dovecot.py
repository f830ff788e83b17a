"""A real IMAP server for the tests: Debian's dovecot, unprivileged, TLS only, on a free high port.

Skipped where dovecot (package dovecot-imapd) or openssl is not installed. Run as root (CI), the
server drops to ``nobody``; otherwise it runs as the current user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

USER, PASSWORD = "support", "imap-test-password"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass(frozen=True)
class ImapServer:
    port: int
    cafile: str
    log: Path

    def url(self, **query: str) -> str:
        params = "&".join(f"{key}={value}" for key, value in {"cafile": self.cafile, **query}.items())
        return f"imaps://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX?{params}"

    def mailbox(self):
        from imap_tools import MailBox

        box = MailBox("127.0.0.1", self.port, ssl_context=ssl.create_default_context(cafile=self.cafile))
        return box.login(USER, PASSWORD)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_tls(port: int, cafile: str, process: subprocess.Popen, log: Path) -> None:
    context = ssl.create_default_context(cafile=cafile)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    if tls.recv(64).startswith(b"* OK"):
                        return
        except OSError:
            time.sleep(0.2)
    output = log.read_text() if log.exists() else ""
    pytest.fail(f"dovecot did not start: {output[-2000:]}")


def start_dovecot():
    if not shutil.which("dovecot") or not shutil.which("openssl"):
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    root = Path(tempfile.mkdtemp(prefix="imap-test-", dir="/tmp"))
    root.chmod(0o755)  # the unprivileged server user must reach its files
    try:
        for sub in ("run", "state", "home"):
            (root / sub).mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(root / "key.pem"),
             "-out", str(root / "cert.pem")],
            check=True, capture_output=True, timeout=60,
        )
        (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        account = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        group = account.pw_gid
        import grp

        port = _free_port()
        (root / "dovecot.conf").write_text(CONFIG.format(
            root=root, user=account.pw_name, group=grp.getgrgid(group).gr_name, uid=account.pw_uid, gid=group,
            port=port,
        ))
        if os.geteuid() == 0:
            for path in [root, *root.rglob("*")]:
                os.chown(path, account.pw_uid, group)
        process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(root / "dovecot.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            **({"user": account.pw_uid, "group": group, "extra_groups": []} if os.geteuid() == 0 else {}),
        )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    server = ImapServer(port=port, cafile=str(root / "cert.pem"), log=root / "dovecot.log")
    try:
        _wait_for_tls(port, server.cafile, process, server.log)
    except BaseException:
        _stop(process, root)
        raise
    return server, process, root


def _stop(process: subprocess.Popen, root: Path) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def dovecot():
    server, process, root = start_dovecot()
    yield server
    _stop(process, root)


@pytest.fixture
def imap(dovecot) -> ImapServer:
    """The server with empty folders for each test."""
    with dovecot.mailbox() as box:
        for folder in box.folder.list():
            box.folder.set(folder.name)
            uids = box.uids("ALL")
            if uids:
                box.delete(uids)
        box.folder.set("INBOX")
    return dovecot
