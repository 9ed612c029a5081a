"""Cutting text short without leaving part of a word (or of a secret) at the cut."""

from __future__ import annotations

import re

ELLIPSIS = "…"
_WORD_END = re.compile(r"[^\s\"'<>()\[\]{},;]+\Z")
"""The tail of a cut text that may belong to a word going on past the cut."""


def clip(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters; else its start, cut before the word
    the limit falls in, with "…".

    Redaction replaces whole secrets: a secret cut in two is no longer recognised, and
    its first part would be shown. Cutting before the word keeps such a part out (a
    secret with spaces in it may still lose its last words only)."""
    if len(text) <= limit:
        return text
    head = text[: max(limit - len(ELLIPSIS), 0)]
    if not text[len(head)].isspace():
        head = _WORD_END.sub("", head)
    return head + ELLIPSIS
