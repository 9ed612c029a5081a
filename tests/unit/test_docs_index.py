"""docs/README.md is the index of the documentation: it links every page, and every one of
its links leads to a page."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
INDEX = DOCS / "README.md"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def linked() -> set[str]:
    return {link for link in LINK.findall(INDEX.read_text()) if "://" not in link}


def test_the_index_links_every_page() -> None:
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")} - {"README.md"}
    assert pages - linked() == set()


def test_every_link_of_the_index_leads_to_a_page() -> None:
    assert linked()
    for link in linked():
        assert (DOCS / link).is_file(), link
