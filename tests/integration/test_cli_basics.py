"""``tav --version`` and ``tav nodes list`` as a terminal shows them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version

from tav.nodes.builtin import BUILTIN_NODE_TYPES


def tav(*args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAV_")}
    return subprocess.run(
        [sys.executable, "-m", "tav", *args],
        env={**env, "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version() -> None:
    done = tav("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"tav {version('tav-engine')}\n"
    assert done.stdout.split()[1][0].isdigit()


def test_nodes_list_fits_80_columns_one_line_per_type() -> None:
    done = tav("nodes", "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    assert lines[0].split() == ["type", "title", "description"]
    catalog = json.loads(tav("nodes", "list", "--json").stdout)
    # One line per type (no wrapped continuation lines), each type whole.
    assert [line.split()[0] for line in lines[1:]] == [entry["type"] for entry in catalog]
    assert {node_type.spec.type for node_type in BUILTIN_NODE_TYPES} <= {
        entry["type"] for entry in catalog
    }
    http = next(line for line in lines if line.startswith("core.http_request "))
    assert "HTTP" in http


def test_nodes_list_wide_shows_versions_and_categories() -> None:
    done = tav("nodes", "list", "--wide", columns=200)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["type", "version", "category", "title", "description"]
    catalog = json.loads(tav("nodes", "list", "--json").stdout)
    for entry in catalog:
        [row] = [line for line in lines if line.startswith(f"{entry['type']} ")]
        assert row.split()[1:3] == [str(entry["version"]), entry["category"]]
    assert max(len(line) for line in lines) > 80
