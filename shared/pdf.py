"""What every printable Chinese document of the platform shares: reportlab's built-in CID font
STSong-Light (no font file to ship), the characters it cannot draw, and paragraph text for it.

Notices, decisions, certificates, fee documents and guides each keep their own layout and styles;
they take the font, the base style and the text through here, so a character fixed for one is fixed
for all.
"""

from __future__ import annotations

from functools import lru_cache
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont

FONT = "STSong-Light"

# STSong-Light's Unicode CMap (UniGB-UCS2-H) has no glyph for a few common characters — notably the
# middle dot U+00B7 of "草稿 · 未发布" and of minority names like "阿依古丽·买买提". They are drawn with
# a look-alike the CMap does map, so a PDF never shows a missing-glyph box.
_SUBSTITUTES = str.maketrans({
    "\u00b7": "\u30fb",  # · middle dot → ・
    "\u2022": "\u30fb",  # • bullet
    "\u2027": "\u30fb",  # ‧ hyphenation point
    "\u2219": "\u30fb",  # ∙ bullet operator
    "\u22c5": "\u30fb",  # ⋅ dot operator
    "\u301c": "\uff5e",  # 〜 wave dash → ～
    "\u2014": "\u2015",  # — em dash → ―
    "\u00a0": " ",       # no-break space
})


def drawable(text: object) -> str:
    """Text as the CID font can draw it."""
    return str(text).translate(_SUBSTITUTES)


def markup(text: object) -> str:
    """Plain text as a reportlab Paragraph's markup: drawable, escaped, line breaks kept."""
    return escape(drawable(text)).replace("\n", "<br/>")


@lru_cache(maxsize=1)
def register_font() -> str:
    """Register the CID font once per process; its name."""
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def base_style(font_size: float, leading: float) -> ParagraphStyle:
    """The base paragraph style of a document: the CID font, CJK line breaking."""
    return ParagraphStyle("base", fontName=register_font(), fontSize=font_size, leading=leading, wordWrap="CJK")
