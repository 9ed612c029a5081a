"""The wheel ``python -m build --wheel`` makes holds the built editor and the docs, and a
server installed from it serves both, with no Node.js and no checkout.

Offline: the wheel is built without build isolation (setuptools and build come with the
dev extras), from a copy of the sources, so nothing is written into the checkout. It is
installed without its dependencies into a fresh virtualenv, which reaches them in the
dev virtualenv through a ``.pth`` line: a plain path line, so the dev virtualenv's own
``.pth`` files, the editable install of the checkout among them, are not run and cannot
shadow the wheel (the test checks where ``tav`` is imported from).

It takes some 20 s (most of it building), so one wheel and one server serve every check.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "src" / "tav" / "web"

pytestmark = [
    pytest.mark.skipif(
        not (WEB / "index.html").is_file(),
        reason="the editor is not built (make web; make test builds it first)",
    ),
    pytest.mark.timeout(300),
]


@dataclass
class Installed:
    wheel: Path
    python: Path
    url: str


def clean_environment() -> dict[str, str]:
    """The environment, less what would point Python or TAV elsewhere."""
    skip = ("TAV_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if not k.startswith(skip)}


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=240,
        env=clean_environment(),
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


def sources(into: Path) -> Path:
    """What the build reads, copied (the docs link in src/tav points at ../../docs)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".built")
    shutil.copytree(ROOT / "src", into / "src", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "docs", into / "docs", ignore=ignore)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, into)
    return into


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("wheel")
    tree = sources(work / "tree")
    run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", work / "dist", tree)
    [wheel] = (work / "dist").glob("tav_engine-*.whl")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--quiet", wheel)  # fmt: skip
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
                .stdout.strip())  # fmt: skip
    (site / "dev-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    yield from _served(Installed(wheel, python, ""), work)


def _served(installed: Installed, work: Path) -> Iterator[Installed]:
    port = free_port()
    env = clean_environment()
    env.update(TAV_DATA_DIR=str(work / "data"), PATH=f"{installed.python.parent}:/usr/bin:/bin")
    log = work / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [installed.python.parent / "tav", "serve", "--port", str(port)],
            cwd=work,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    installed.url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while "is ready at" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield installed
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_wheel_holds_the_editor_and_the_docs(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert "tav/web/index.html" in names
    built = {f"tav/web/assets/{path.name}" for path in (WEB / "assets").iterdir()}
    assert built
    assert built <= names
    docs = {f"tav/docs/{path.relative_to(ROOT / 'docs')}" for path in (ROOT / "docs").rglob("*.*")}
    assert "tav/docs/README.md" in docs
    assert docs <= names
    modules = {
        f"tav/{path.relative_to(ROOT / 'src' / 'tav')}"
        for path in (ROOT / "src" / "tav").rglob("*.py")
    }
    assert modules <= names  # the migrations among them


def test_tav_comes_from_the_wheel_not_the_checkout(installed: Installed) -> None:
    where = run(installed.python, "-c", "import tav; print(tav.__file__)").stdout.strip()
    assert Path(where).is_relative_to(installed.python.parent.parent), where
    assert not Path(where).is_relative_to(ROOT)


def test_the_installed_server_serves_the_editor(installed: Installed) -> None:
    index = httpx.get(f"{installed.url}/")
    assert index.status_code == 200
    assert index.text == (WEB / "index.html").read_text()
    asset = next((WEB / "assets").glob("*.js"))
    script = httpx.get(f"{installed.url}/assets/{asset.name}")
    assert script.status_code == 200
    assert script.content == asset.read_bytes()


def test_the_installed_server_serves_the_docs_and_the_api_docs(installed: Installed) -> None:
    guide = httpx.get(f"{installed.url}/guide/reference/built-in-nodes.md")
    assert guide.status_code == 200
    assert "<h1" in guide.text
    assert "core.http_request" in guide.text
    swagger = httpx.get(f"{installed.url}/docs/assets/swagger-ui-bundle.js")
    assert swagger.status_code == 200
