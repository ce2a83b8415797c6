"""The console lists' pager (pages_kit.pager), with no I/O: where a page is in the whole, and the addresses of
the pages on either side — the filters of the page kept, the offset replaced, no page past the end, the
count's cap or the deepest page a console list goes to."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request

from gateway.pages_kit import CONSOLE_MAX_OFFSET, CONSOLE_PAGE, pager


def _request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/console/window/today", "query_string": query.encode(),
                    "headers": [(b"host", b"127.0.0.1:8000")], "scheme": "http", "server": ("127.0.0.1", 8000)})


def _params(url: str | None) -> dict[str, list[str]]:
    assert url is not None
    return parse_qs(urlsplit(url).query)


def test_the_first_page_of_a_longer_list_leads_on_and_keeps_its_filter():
    p = pager(_request("status=received"), 0, CONSOLE_PAGE, 45, False)
    assert (p.first, p.last, p.total, p.prev) == (1, CONSOLE_PAGE, "45", None)
    assert _params(p.next) == {"status": ["received"], "offset": [str(CONSOLE_PAGE)]}


def test_a_middle_page_leads_both_ways_and_the_last_only_back():
    middle = pager(_request(f"status=received&offset={CONSOLE_PAGE}"), CONSOLE_PAGE, CONSOLE_PAGE, 45, False)
    assert _params(middle.prev) == {"status": ["received"], "offset": ["0"]}
    assert _params(middle.next)["offset"] == [str(2 * CONSOLE_PAGE)]
    last = pager(_request(f"offset={2 * CONSOLE_PAGE}"), 2 * CONSOLE_PAGE, 5, 45, False)
    assert (last.first, last.last, last.next) == (2 * CONSOLE_PAGE + 1, 2 * CONSOLE_PAGE + 5, None)
    assert _params(last.prev) == {"offset": [str(CONSOLE_PAGE)]}


def test_a_full_last_page_has_no_next_and_an_empty_list_says_none():
    exact = pager(_request(""), CONSOLE_PAGE, CONSOLE_PAGE, 2 * CONSOLE_PAGE, False)
    assert exact.next is None and exact.prev is not None
    empty = pager(_request(""), 0, 0, 0, False)
    assert (empty.first, empty.last, empty.total, empty.prev, empty.next) == (0, 0, "0", None, None)
    # an offset typed past the end: nothing shown, the way back offered
    past = pager(_request("offset=200"), 200, 0, 45, False)
    assert past.next is None and _params(past.prev) == {"offset": [str(200 - CONSOLE_PAGE)]}


def test_a_capped_count_pages_on_up_to_the_deepest_page_and_says_plus():
    p = pager(_request(""), 500, CONSOLE_PAGE, 1000, True)
    assert p.total == "1000+" and _params(p.next) == {"offset": [str(500 + CONSOLE_PAGE)]}
    deepest = CONSOLE_MAX_OFFSET - CONSOLE_PAGE
    assert pager(_request(""), deepest, CONSOLE_PAGE, 1000, True).next is None


def test_a_second_list_on_the_page_pages_by_its_own_parameter():
    p = pager(_request("offset=40&mine_offset=20"), 20, CONSOLE_PAGE, 100, False, "mine_offset")
    assert _params(p.next) == {"offset": ["40"], "mine_offset": ["40"]}
    assert _params(p.prev) == {"offset": ["40"], "mine_offset": ["0"]}
