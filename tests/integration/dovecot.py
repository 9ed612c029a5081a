"""A real IMAP server for tests: Debian's Dovecot with a config, users and mail dirs of
its own in a temporary folder, on a free port of 127.0.0.1 (no TLS, plain logins).

Run by an ordinary user, every Dovecot process runs as that user. Run as root (CI), Dovecot
refuses to run its login processes or mail as root, so they run as the ``dovenull`` and
``dovecot`` users that Debian's package creates, and the folder is theirs to enter.
"""

from __future__ import annotations

import getpass
import grp
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BINARY = "/usr/sbin/dovecot"


def installed() -> bool:
    return bool(shutil.which("dovecot") or Path(BINARY).exists())


class Dovecot:
    def __init__(self, users: dict[str, str]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tav-dovecot-"))
        self.folder.chmod(0o755)
        self.port = _free_port()
        self.users = users
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Dovecot:
        (self.folder / "passwd").write_text(
            "".join(f"{user}:{{PLAIN}}{password}\n" for user, password in self.users.items())
        )
        for name in ("run", "state", "mail"):
            (self.folder / name).mkdir(exist_ok=True)
        mail_user, login_user, internal_user = self._users()
        if os.geteuid() == 0:
            shutil.chown(self.folder / "mail", mail_user, mail_user)
        config = self.folder / "dovecot.conf"
        config.write_text(self._config(mail_user, login_user, internal_user))
        self.process = subprocess.Popen(
            [shutil.which("dovecot") or BINARY, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_serving()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def _users(self) -> tuple[str, str, str]:
        if os.geteuid() == 0:
            return "dovecot", "dovenull", "dovecot"
        me = getpass.getuser()
        return me, me, me

    def _config(self, mail_user: str, login_user: str, internal_user: str) -> str:
        folder = self.folder
        group = grp.getgrgid(os.getegid()).gr_name if os.geteuid() != 0 else mail_user
        return f"""
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
default_internal_user = {internal_user}
default_internal_group = {internal_user if os.geteuid() == 0 else group}
default_login_user = {login_user}
mail_location = maildir:{folder}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={group} home={folder}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()[-2000:]}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
