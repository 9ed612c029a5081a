"""The import contracts of ``pyproject.toml`` mean what they say.

``make contracts`` (import-linter) keeps them; these tests keep the contracts themselves
whole: every top-level module sits in a layer, "only tav.ai imports LangChain" covers every
module but tav.ai, ``tav.core`` imports only the standard library and Pydantic (an
allow-list, where the contract can only forbid), and each contract is BROKEN by one
import that breaks its rule (the probes, on a copy of the sources).
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "tav"
CONTRACTS = {
    contract["id"]: contract
    for contract in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
}
CORE_MAY_IMPORT = {"pydantic", "pydantic_core", "typing_extensions", "annotated_types", "tav"}
USE_CASES = "roots"


def top_level_modules() -> set[str]:
    """``tav.x`` for every package and module directly under ``src/tav``."""
    found = set()
    for path in PACKAGE.iterdir():
        if path.is_dir() and (path / "__init__.py").exists():
            found.add(f"tav.{path.name}")
        elif path.suffix == ".py" and path.name != "__init__.py":
            found.add(f"tav.{path.stem}")
    return found


def layer_modules(layer: str) -> set[str]:
    return {part.strip(" ()") for part in layer.replace(":", "|").split("|")}


def test_every_top_level_module_sits_in_a_layer():
    layered = set().union(*map(layer_modules, CONTRACTS["layers"]["layers"]))
    assert top_level_modules() - layered == set()


def test_only_tav_ai_may_import_langchain_and_every_other_module_is_watched():
    assert set(CONTRACTS["langchain"]["source_modules"]) == top_level_modules() - {"tav.ai"}


def test_every_module_of_the_application_is_a_use_case_or_a_composition_root():
    roots = CONTRACTS[USE_CASES]
    sides = set(roots["source_modules"]) | set(roots["forbidden_modules"])
    modules = {f"tav.app.{path.stem}" for path in (PACKAGE / "app").glob("*.py")}
    assert modules - {"tav.app.__init__"} == sides


def test_core_imports_only_the_standard_library_and_pydantic():
    outside = set()
    for path in (PACKAGE / "core").rglob("*.py"):
        for statement in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(statement, ast.Import):
                names = [alias.name for alias in statement.names]
            elif isinstance(statement, ast.ImportFrom) and statement.level == 0:
                names = [statement.module or ""]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in CORE_MAY_IMPORT:
                    outside.add(f"{path.relative_to(PACKAGE)}: {name}")
                if name.startswith("tav.") and not name.startswith("tav.core"):
                    outside.add(f"{path.relative_to(PACKAGE)}: {name}")
    assert outside == set()


# One import that breaks each contract's rule: (contract id, module, the line added).
PROBES = [
    ("layers", "storage/db.py", "import tav.app.plans"),
    ("layers", "engine/pools.py", "import tav.ai.text"),
    ("layers", "core/values.py", "import tav.nodes.registry"),
    ("core", "core/values.py", "import sqlalchemy"),
    ("engine-and-nodes", "engine/bus.py", "import tav.settings"),
    ("engine-and-nodes", "nodes/registry.py", "import langchain_core"),
    ("langchain", "triggers/manager.py", "import langchain_core"),
    ("langchain", "services/__init__.py", "import langchain_openai"),
    ("langchain", "core/values.py", "import langchain_core"),
    ("roots", "app/executions.py", "import tav.app.root"),
]


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The report of every contract on a copy of the sources with every probe added."""
    copy = tmp_path_factory.mktemp("probed")
    shutil.copytree(PACKAGE, copy / "src" / "tav", ignore=shutil.ignore_patterns("web"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    for _, module, line in PROBES:
        path = copy / "src" / "tav" / module
        path.write_text(path.read_text() + f"\n{line}  # probe\n")
    return {contract: lint(copy, contract) for contract in CONTRACTS}


def lint(directory: Path, contract: str | None) -> str:
    """lint-imports' report on the sources under ``directory`` (every contract, or one)."""
    env = {**os.environ, "PYTHONPATH": str(directory / "src")}
    only = ["--contract", contract] if contract else []
    done = subprocess.run(
        [Path(sys.executable).with_name("lint-imports"), "--no-cache", *only],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize(("contract", "module", "line"), PROBES)
def test_each_contract_is_broken_by_an_import_against_its_rule(probed, contract, module, line):
    report = probed[contract]
    assert "BROKEN" in report, report
    importer = "tav." + module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    imported = line.removeprefix("import ")
    assert (
        f"{importer} -> {imported}" in report
        or f"{importer} is not allowed to import {imported}" in report
    ), report


def test_the_sources_as_they_are_keep_every_contract():
    report = lint(ROOT, None)
    assert "BROKEN" not in report, report
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in report, report
