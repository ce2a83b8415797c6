"""The text every printable document draws with the built-in CID font."""

from shared.pdf import FONT, base_style, drawable, markup


def test_characters_the_font_lacks_are_drawn_with_look_alikes():
    assert drawable("阿依古丽·买买提") == "阿依古丽・买买提"
    assert drawable("2026〜2027\u00a0年") == "2026～2027 年"
    assert drawable(12) == "12"


def test_markup_escapes_and_keeps_line_breaks():
    assert markup("<b>甲</b> & 乙\n丙") == "&lt;b&gt;甲&lt;/b&gt; &amp; 乙<br/>丙"


def test_the_base_style_uses_the_registered_cid_font():
    style = base_style(11, 19)
    assert (style.fontName, style.fontSize, style.leading, style.wordWrap) == (FONT, 11, 19, "CJK")
