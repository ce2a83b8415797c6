"""The document font: a TrueType Song face embedded in every printable PDF, the CID font for what it lacks,
and the CID font alone (not embedded) where no font file is found."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.platypus import Paragraph, SimpleDocTemplate

from shared import pdf
from shared.pdf import CID_FONT, DEBIAN_PACKAGE, DocumentFont, FontNotFound, find_font

NAME = "阿依古丽·买买提"
RARE = "\u3400"          # 㐀, CJK Extension A: not in AR PL UMing CN


@pytest.fixture(scope="module")
def embedded() -> DocumentFont:
    font = find_font()
    assert font.embedded, f"no TrueType Chinese font: `make services` installs Debian's {DEBIAN_PACKAGE}"
    return font


def render(font: DocumentFont, *texts: str) -> bytes:
    out = io.BytesIO()
    style = pdf.ParagraphStyle("t", fontName=font.name, fontSize=11, leading=18, wordWrap="CJK")
    SimpleDocTemplate(out, pagesize=A4).build([Paragraph(font.markup(t), style) for t in texts])
    return out.getvalue()


def fonts_of(document: bytes) -> dict[str, bool]:
    """Base font name → whether the file carries the font program. Helvetica is left out: reportlab puts
    its initial canvas font in every page's resources, and no text is set in it."""
    reader = PdfReader(io.BytesIO(document))
    found: dict[str, bool] = {}
    for page in reader.pages:
        for f in page["/Resources"]["/Font"].values():
            f = f.get_object()
            descendants = f.get("/DescendantFonts")
            desc = (descendants[0].get_object() if descendants else f).get("/FontDescriptor")
            desc = desc.get_object() if desc else {}
            found[str(f["/BaseFont"])] = any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3"))
    found.pop("/Helvetica", None)
    return found


def text_of(document: bytes) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(document)).pages))


def test_a_document_carries_its_font_and_reads_back_as_written(embedded):
    document = render(embedded, f"申请人：{NAME}", "受理通知书\n凉州区东大街街道便民服务中心")
    fonts = fonts_of(document)
    assert fonts and all(fonts.values()), fonts                 # every font used is embedded
    assert [name.split("+")[-1] for name in fonts] == ["UMingCN-0"], fonts    # a subset of the face
    assert text_of(document) == re.sub(r"\s+", "", f"申请人：{NAME}受理通知书凉州区东大街街道便民服务中心")


def test_a_character_the_face_lacks_is_set_in_the_cid_font_not_dropped(embedded):
    assert not embedded.has(RARE) and embedded.has("甲")
    assert embedded.markup(f"甲{RARE}{RARE}乙") == f'甲<font name="{CID_FONT}">{RARE}{RARE}</font>乙'
    document = render(embedded, f"甲{RARE}乙")
    fonts = fonts_of(document)
    assert fonts[f"/{CID_FONT}"] is False and any(v for k, v in fonts.items() if k != f"/{CID_FONT}")
    assert RARE in text_of(document)


def test_markup_escapes_and_keeps_line_breaks(embedded):
    for font in (embedded, DocumentFont(None)):
        assert font.markup("<b>甲</b> & 乙\n丙") == "&lt;b&gt;甲&lt;/b&gt; &amp; 乙<br/>丙"


def test_the_embedded_face_draws_the_middle_dot_itself_and_the_cid_font_a_look_alike(embedded):
    assert embedded.drawable(NAME) == NAME and embedded.markup(NAME) == NAME
    cid = DocumentFont(None)
    assert cid.drawable(NAME) == "阿依古丽・买买提" and cid.markup(NAME) == "阿依古丽・买买提"
    assert cid.drawable("2026〜2027\u00a0年") == "2026～2027 年"
    assert cid.drawable(12) == "12"


def test_without_a_font_file_documents_fall_back_to_the_cid_font(tmp_path: Path):
    font = find_font(known=(str(tmp_path / "missing.ttc#0"),))
    assert not font.embedded and font.name == CID_FONT
    fonts = fonts_of(render(font, NAME))
    assert fonts == {f"/{CID_FONT}": False}


def test_a_font_the_setting_names_must_exist_and_be_truetype(tmp_path: Path):
    with pytest.raises(FontNotFound, match="not a file"):
        find_font(str(tmp_path / "none.ttf"))
    with pytest.raises(FontNotFound, match="index"):
        find_font(str(tmp_path / "x.ttc#first"))
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font")
    with pytest.raises(FontNotFound, match="cannot use"):
        find_font(str(junk)).register()


def test_the_base_style_uses_the_process_font():
    style = pdf.base_style(11, 19)
    assert (style.fontName, style.fontSize, style.leading, style.wordWrap) == (pdf.register_font(), 11, 19, "CJK")
