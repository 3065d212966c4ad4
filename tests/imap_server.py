"""A real IMAP server for the tests: Debian's Dovecot, run in the foreground in a folder of its own.

It listens on 127.0.0.1 with TLS only (imaps, and imap with STARTTLS), under a
certificate made for the run by `openssl`; `SSL_CERT_FILE` pointed at that
certificate makes Python trust it, as an operator's private authority would be.
Every user logs in with `PASSWORD`; mail is kept in Maildirs under the folder.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists(
    "/usr/sbin/dovecot") else None)
OPENSSL = shutil.which("openssl")
SKIP_REASON = ("no dovecot on this machine: install Debian's dovecot-imapd "
               "(apt-get install dovecot-imapd) to run the IMAP tests")
PASSWORD = "imap-test-password"
START_TIMEOUT = 15.0

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
instance_name = publisher-test-{port}
ssl = required
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
disable_plaintext_auth = yes
auth_mechanisms = plain
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={home}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {starttls_port}
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _users() -> tuple[str, str, int, int]:
    """Who Dovecot's processes and the mail run as: its own users as root, else ourselves."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("mail")
        return "dovenull", "dovecot", mail.pw_uid, mail.pw_gid
    me = pwd.getpwuid(os.geteuid())
    return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid


class IMAPServer:
    """`with IMAPServer(folder) as server:` Dovecot on `server.port` (imaps)."""

    def __init__(self, folder: Path) -> None:
        assert DOVECOT is not None and OPENSSL is not None
        self.folder = folder
        self.port, self.starttls_port = free_port(), free_port()
        self.certificate = folder / "cert.pem"
        self.home = folder / "home"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> IMAPServer:
        for sub in ("run", "state"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        # The mail user must reach its home: not below a test's private (0700) folder.
        self.home = Path(tempfile.mkdtemp(prefix="publisher-imap-"))
        self.home.chmod(0o711)
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", str(self.folder / "key.pem"), "-out", str(self.certificate),
                        "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        login_user, internal_user, uid, gid = _users()
        os.chown(self.home, uid, gid)
        config = self.folder / "dovecot.conf"
        config.write_text(CONFIG.format(
            folder=self.folder, home=self.home, port=self.port, starttls_port=self.starttls_port,
            login_user=login_user, internal_user=internal_user, mail_uid=uid, mail_gid=gid,
            password=PASSWORD), encoding="utf-8")
        assert DOVECOT is not None
        self._process = subprocess.Popen([DOVECOT, "-F", "-c", str(config)],
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._wait_until_up()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout:
                self._process.stdout.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def _wait_until_up(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                out = self._process.stdout.read().decode() if self._process.stdout else ""
                raise RuntimeError(f"dovecot exited with {self._process.returncode}: {out}"
                                   f"{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen within {START_TIMEOUT} s: {self.log()}")

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, user: str = "bounces", folder: str = "INBOX") -> str:
        return f"imaps://{user}@127.0.0.1:{self.port}/{folder}"

    def client(self, user: str = "bounces") -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.certificate))
        client = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context)
        client.login(user, PASSWORD)
        return client

    def deliver(self, messages: list[bytes], user: str = "bounces", folder: str = "INBOX"
                ) -> None:
        client = self.client(user)
        try:
            if folder != "INBOX":
                client.create(folder)
            for message in messages:
                client.append(folder, None, None, message)
        finally:
            client.logout()

    def flags(self, user: str = "bounces", folder: str = "INBOX") -> list[bool]:
        """For each message in order: whether it is flagged seen."""
        client = self.client(user)
        try:
            client.select(folder, readonly=True)
            kind, data = client.fetch("1:*", "(FLAGS)")
            if kind != "OK" or data == [None]:
                return []
            return [b"\\Seen" in item for item in data if isinstance(item, bytes)]
        finally:
            client.logout()
