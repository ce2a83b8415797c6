"""Paging and identifier checks every service applies to its entrypoints."""

import pytest

from shared.errors import InvalidArgument
from shared.validation import DEFAULT_PAGE, MAX_PAGE, page, uuid_field


def test_a_page_defaults_and_is_capped():
    assert page(0, 0) == (DEFAULT_PAGE, 0)
    assert page(10, 30) == (10, 30)
    assert page(MAX_PAGE + 1, 0) == (MAX_PAGE, 0)


@pytest.mark.parametrize("limit, offset, field", [(-1, 0, "limit"), (10, -5, "offset")])
def test_negative_paging_is_refused_naming_the_field(limit, offset, field):
    with pytest.raises(InvalidArgument) as e:
        page(limit, offset)
    assert e.value.field == field


def test_identifiers_come_back_canonical_or_are_refused_with_what_they_are():
    assert uuid_field("6F9619FF-8B86-D011-B42D-00C04FC964FF", "case_id", "办件标识") == \
        "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    for bad in ("", "not-a-uuid", None, 42):
        with pytest.raises(InvalidArgument) as e:
            uuid_field(bad, "case_id", "办件标识")
        assert (e.value.field, e.value.message) == ("case_id", "办件标识格式不正确")
