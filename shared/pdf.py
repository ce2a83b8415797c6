"""What every printable Chinese document of the platform shares: the font, embedded in the file, the
characters it cannot draw, and paragraph text for it.

A notice, decision or receipt is a document a person keeps, prints and shows elsewhere, so its font
travels inside the PDF: a TrueType Song (Ming) face, subset to the characters used. The default is
AR PL UMing CN from Debian's `fonts-arphic-uming` (`make run` and `make test` install it); setting
`SANJI_PDF_FONT` names another TrueType file (`path` or `path#index` for a member of a collection).
Where no such file is found the documents fall back to reportlab's built-in CID font STSong-Light,
which is not embedded (the reader's viewer supplies a Song face), and the process logs a warning.

Characters the embedded face lacks (rare ones, such as CJK Extension A in some names) are set in
STSong-Light within the same paragraph, so a name is never printed with a missing-glyph box.

Notices, decisions, certificates, fee documents and guides each keep their own layout and styles;
they take the font, the base style and the text through here, so a character fixed for one is fixed
for all.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont

log = logging.getLogger(__name__)

CID_FONT = "STSong-Light"
EMBEDDED_FONT = "SanjiSong"
# TrueType Song/Ming faces with the simplified-Chinese glyph set, looked for in this order
KNOWN_FONTS = ("/usr/share/fonts/truetype/arphic/uming.ttc#0",)
DEBIAN_PACKAGE = "fonts-arphic-uming"

# Look-alikes for characters a font has no glyph for. STSong-Light's Unicode CMap (UniGB-UCS2-H)
# lacks, notably, the middle dot U+00B7 of "草稿 · 未发布" and of minority names like "阿依古丽·买买提".
_LOOK_ALIKES = {
    "\u00b7": "\u30fb",  # · middle dot → ・
    "\u2022": "\u30fb",  # • bullet
    "\u2027": "\u30fb",  # ‧ hyphenation point
    "\u2219": "\u30fb",  # ∙ bullet operator
    "\u22c5": "\u30fb",  # ⋅ dot operator
    "\u301c": "\uff5e",  # 〜 wave dash → ～
    "\u2014": "\u2015",  # — em dash → ―
    "\u00a0": " ",       # no-break space
}
_CID_SUBSTITUTES = str.maketrans(_LOOK_ALIKES)


class FontNotFound(Exception):
    """The font file named by the setting cannot be used."""


def parse_spec(spec: str) -> tuple[Path, int]:
    """`path` or `path#index` (the member of a TrueType collection)."""
    path, _, index = spec.partition("#")
    if index and not index.isdigit():
        raise FontNotFound(f"SANJI_PDF_FONT: the collection index after '#' must be a number: {spec!r}")
    return Path(path), int(index or 0)


@dataclass
class DocumentFont:
    """The face a process draws documents with: an embedded TrueType file, or (file=None) the CID font."""

    file: Path | None = None
    index: int = 0
    _chars: frozenset[int] = field(default=frozenset(), init=False, repr=False)
    _registered: bool = field(default=False, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def embedded(self) -> bool:
        return self.file is not None

    @property
    def name(self) -> str:
        """The registered font name to set text in (registers it on first use)."""
        self.register()
        return f"{EMBEDDED_FONT}-{self.file.stem}-{self.index}" if self.file else CID_FONT

    def register(self) -> None:
        with self._lock:
            if self._registered:
                return
            pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))     # the fallback for rare characters
            if self.file is not None:
                try:
                    face = TTFont(f"{EMBEDDED_FONT}-{self.file.stem}-{self.index}", str(self.file),
                                  subfontIndex=self.index)
                except (OSError, TTFError) as exc:
                    raise FontNotFound(f"cannot use {self.file}#{self.index} as the document font: {exc}") from exc
                pdfmetrics.registerFont(face)
                self._chars = frozenset(face.face.charToGlyph)
            self._registered = True

    def has(self, ch: str) -> bool:
        self.register()
        return ord(ch) in self._chars

    def drawable(self, text: object) -> str:
        """Text the face draws, for one-font strings on a canvas: a character it lacks becomes a look-alike."""
        text = str(text)
        if not self.embedded:
            return text.translate(_CID_SUBSTITUTES)
        self.register()
        return "".join(ch if self.has(ch) or ch not in _LOOK_ALIKES else _LOOK_ALIKES[ch] for ch in text)

    def markup(self, text: object) -> str:
        """Plain text as a reportlab Paragraph's markup: escaped, line breaks kept, and each run of characters
        the embedded face lacks set in the CID font (a look-alike where the face has one)."""
        if not self.embedded:
            return escape(str(text).translate(_CID_SUBSTITUTES)).replace("\n", "<br/>")
        self.register()
        out: list[str] = []
        rare: list[str] = []

        def flush() -> None:
            if rare:
                run = escape("".join(rare).translate(_CID_SUBSTITUTES))
                out.append(f'<font name="{CID_FONT}">{run}</font>')
                rare.clear()

        for ch in str(text):
            if ch == "\n" or self.has(ch):
                flush()
                out.append("<br/>" if ch == "\n" else escape(ch))
            elif ch in _LOOK_ALIKES and self.has(_LOOK_ALIKES[ch]):
                flush()
                out.append(escape(_LOOK_ALIKES[ch]))
            else:
                rare.append(ch)
        flush()
        return "".join(out)


def find_font(spec: str = "", known: tuple[str, ...] = KNOWN_FONTS) -> DocumentFont:
    """The font `spec` names (it must exist), else the first known file present, else the CID font."""
    if spec:
        path, index = parse_spec(spec)
        if not path.is_file():
            raise FontNotFound(f"SANJI_PDF_FONT names {path}, which is not a file")
        return DocumentFont(path, index)
    for candidate in known:
        path, index = parse_spec(candidate)
        if path.is_file():
            return DocumentFont(path, index)
    return DocumentFont(None)


_current: DocumentFont | None = None
_current_lock = threading.Lock()


def configure(spec: str = "") -> DocumentFont:
    """Choose this process's document font (at start-up, from the `pdf_font` setting) and register it."""
    global _current
    font = find_font(spec)
    font.register()
    with _current_lock:
        _current = font
    if font.embedded:
        log.info("printable documents embed %s#%d", font.file, font.index)
    else:
        log.warning("no TrueType Chinese font found (install Debian's %s or set SANJI_PDF_FONT): printable "
                    "documents use %s, which is not embedded in the PDF", DEBIAN_PACKAGE, CID_FONT)
    return font


def current() -> DocumentFont:
    """The process's document font; found with the defaults on first use when `configure` was not called."""
    global _current
    with _current_lock:
        if _current is None:
            _current = find_font()
        return _current


def register_font() -> str:
    """The registered name of the process's document font."""
    return current().name


def drawable(text: object) -> str:
    return current().drawable(text)


def markup(text: object) -> str:
    return current().markup(text)


def base_style(font_size: float, leading: float) -> ParagraphStyle:
    """The base paragraph style of a document: the document font, CJK line breaking."""
    return ParagraphStyle("base", fontName=register_font(), fontSize=font_size, leading=leading, wordWrap="CJK")
