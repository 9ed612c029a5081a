"""What starting a server loads: nothing it does not need before its first request.

A first start on a new SQLite file creates the schema from the models (no Alembic), and no
module that only some requests need is imported: credentials' ``cryptography``, YAML,
Jinja2 (templates), httpx's connection pool (made on the first HTTP request a node sends),
``filetype`` (uploads), the modules of node types no workflow has used, the code sandbox
(made when code first runs), the MCP SDK and ``jsonschema`` (the first request to /mcp).
FastAPI's OpenAPI models are built when the document is first asked for, not at start.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NOT_AT_START = (
    "alembic",
    "cryptography",
    "yaml",
    "httpcore",
    "jinja2",
    "filetype",
    "tav.nodes.builtin.core.flow",
    "tav.nodes.builtin.ai.chat",
    "tav.nodes.builtin.export.pdf",
    "tav.nodes.builtin.services.mail",
    "tav.nodes.builtin.code.python",
    "tav.sandbox",
    "mcp",
    "jsonschema",
)

SCRIPT = """
import asyncio
import sys
from tav.api.app import create_app
from tav.settings import Settings

async def main():
    app = create_app(Settings(data_dir=sys.argv[1]))
    async with app.router.lifespan_context(app):
        pass

asyncio.run(main())
from fastapi.openapi.models import OpenAPI
loaded = [m for m in {modules!r} if m in sys.modules]
if OpenAPI.__pydantic_complete__:
    loaded.append("the OpenAPI models, built")
print(",".join(loaded))
"""


def _loaded(data_dir: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(modules=NOT_AT_START), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_a_first_start_and_a_restart_load_only_what_serving_needs(tmp_path: Path) -> None:
    assert _loaded(tmp_path) == "", "imported by a first start"
    assert (tmp_path / "tav.db").exists()
    assert _loaded(tmp_path) == "", "imported by a restart"
