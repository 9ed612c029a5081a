"""``tav serve`` starts without LangChain: it loads on the first model call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("langchain_core", "langchain_openai", "langchain_anthropic", "openai", "anthropic")

SCRIPT = """
import sys
from tav.api.app import create_app
from tav.app.root import build
from tav.app.server import Server
from tav.settings import Settings

server = Server(build(Settings(data_dir=sys.argv[1])))
create_app(server.settings, server=server)
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def test_creating_the_server_and_app_does_not_import_langchain(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=HEAVY), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "", f"imported at start-up: {done.stdout.strip()}"
