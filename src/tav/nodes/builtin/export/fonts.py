"""Which fonts a PDF export writes its text in, and which characters none of them has.

fpdf2 embeds TrueType and OpenType fonts, and takes each character the current font lacks
from the first fallback font that has it; a character that no font has is left out of the
page, with no more than a line in a log. So the export looks at its text first. The body
font is the first of the configured files (the host's ``PdfFonts``, from
``TAV_PDF_FONT``), else the system's Unicode font (DejaVu Sans, Liberation Sans);
fallbacks are the other configured files, then the system's fonts for the scripts the body
font lacks (Noto CJK, WenQuanYi, Droid Sans Fallback), each added only when the text needs
it (a CJK collection is ~20 MB for fpdf2 to parse). What no font has is reported, and the
node warns or fails.

Rejected: scanning every font installed (fontconfig's way): seconds on the first export,
and what a PDF looks like would depend on whatever a machine happens to have; naming the
font in a setting says it once. Shipping fonts: a CJK font alone is ~20 MB. Without any
Unicode font, text is written in the PDF core font Helvetica (Latin-1 only).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tav.core.errors import NodeError

SYSTEM_BODY = (
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
)
"""Regular and bold files of a Unicode font, where Debian, Arch, Fedora and Alpine put them."""

SYSTEM_FALLBACKS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",  # Debian fonts-noto-cjk
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",  # Arch
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",  # Fedora
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",  # fonts-noto-core, and its
    "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",  # scripts
    "/usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansThai-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",  # fonts-freefont-ttf
    "/usr/share/fonts/truetype/noto/NotoSansSymbols2-Regular.ttf",
)
"""Fonts tried, in order, after the system's body fonts, for characters the body font lacks."""

SAMPLE = 20


@dataclass(frozen=True, slots=True)
class Face:
    path: str
    name: str
    codepoints: frozenset[int]


@dataclass(frozen=True, slots=True)
class FontChoice:
    """The body font (``None``: the core font Helvetica), its bold file if it has one,
    the fallbacks the text needs, and the characters no font has, in order of first use."""

    body: Face | None
    bold: str | None
    fallbacks: tuple[Face, ...]
    missing: str

    @property
    def names(self) -> list[str]:
        faces = [self.body, *self.fallbacks] if self.body else []
        return [face.name for face in faces] or ["Helvetica"]

    def missing_message(self) -> str:
        sample = self.missing[:SAMPLE] + ("…" if len(self.missing) > SAMPLE else "")
        count = len(self.missing)
        return (
            f"{count} character{'s' if count > 1 else ''} could not be shown with the font"
            f"{'s' if len(self.names) > 1 else ''} {', '.join(self.names)}: '{sample}'; "
            "install a font that has them (Noto Sans CJK for Chinese, Japanese and Korean) "
            "or name one in TAV_PDF_FONT"
        )


def choose(text: str, configured: Sequence[str] = ()) -> FontChoice:
    """The fonts to write ``text`` in; raises ``NodeError`` for a configured file that is
    not a font."""
    faces = [_configured(path) for path in configured]
    bold = None
    if not faces:
        faces, bold = _system_body()
    if not faces:  # Helvetica, which fallback fonts cannot stand in for
        missing = "".join(dict.fromkeys(c for c in text if ord(c) in _shown(text) - _LATIN_1))
        return FontChoice(None, None, (), missing)
    body, *candidates = faces
    lacking = _shown(text) - body.codepoints
    fallbacks = []
    for candidate in _with_system_fallbacks(candidates, lacking):
        if lacking & candidate.codepoints and candidate.path != body.path:
            fallbacks.append(candidate)
            lacking -= candidate.codepoints
    missing = "".join(dict.fromkeys(c for c in text if ord(c) in lacking))
    return FontChoice(body, bold, tuple(fallbacks), missing)


@functools.cache
def face(path: str) -> Face:
    """A font file's family name and the characters it has glyphs for."""
    from fontTools.ttLib import TTFont  # type: ignore[import-untyped]

    with open(path, "rb") as file, TTFont(file, lazy=True, fontNumber=0) as font:
        name = font["name"].getBestFamilyName() or Path(path).stem
        return Face(path, str(name), frozenset(font.getBestCmap()))


_LATIN_1 = frozenset(range(256))


def _configured(path: str) -> Face:
    try:
        return face(path)
    except Exception as exc:  # fontTools raises many kinds for a file that is not a font
        reason = f"{type(exc).__name__}: {exc}"
        raise NodeError(
            f"the PDF font {path} (TAV_PDF_FONT) cannot be used: {reason}", type="font_unusable"
        ) from exc


def _system_body() -> tuple[list[Face], str | None]:
    """The system's Unicode font and its bold file; else any font it has for fallbacks."""
    for regular, bold in SYSTEM_BODY:
        if Path(regular).is_file():
            return [face(regular)], bold if Path(bold).is_file() else None
    present = [path for path in SYSTEM_FALLBACKS if Path(path).is_file()]
    return [face(path) for path in present[:1]], None


def _with_system_fallbacks(configured: list[Face], lacking: set[int]) -> list[Face]:
    if not lacking:
        return configured
    system = [regular for regular, _ in SYSTEM_BODY] + list(SYSTEM_FALLBACKS)
    return configured + [face(path) for path in system if Path(path).is_file()]


def _shown(text: str) -> set[int]:
    """The characters of ``text`` that need a glyph: not spaces, line breaks or invisible
    format characters (zero-width joiners, a byte order mark)."""
    return {
        ord(c) for c in set(text) if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf")
    }
