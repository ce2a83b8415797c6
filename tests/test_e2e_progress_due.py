"""The public progress page shows the back office's due date (issue 19): the head grants an extension (延期) in
approval, approval's deadline_extended reaches intake through the outbox and RabbitMQ, and /progress shows the
new date with the days and the reason — through the real processes and the gateway with real logins."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.test_e2e_case_flow import APPROVAL, accepted_at_the_window, county_item, found
from tests.test_e2e_intake import RESIDENTS, Api, wait_for

pytestmark = pytest.mark.e2e
REASON = "需征求公安部门意见，二十个工作日内不能作出决定"


def test_an_extension_granted_in_approval_shows_its_new_date_on_the_progress_page(demo_platform):
    clerk, head = Api(demo_platform, "county.clerk"), Api(demo_platform, "county.head")
    item = county_item(clerk, "居民身份证换领")
    app, accepted = accepted_at_the_window(clerk, item, RESIDENTS[5])
    number, code = accepted["case_number"], accepted["query_code"]
    case = wait_for(lambda: found(head, f"{APPROVAL}/cases/by-number/{number}"), what="the case to open")

    def public() -> dict:
        return httpx.get(f"{clerk.base}/api/v1/public/progress", params={"case": number, "code": code},
                         timeout=30).json()
    before = public()
    assert before["promised_due"] and not before["extended_due"]

    case = head.post(f"{APPROVAL}/cases/{case['id']}/extend", {"days": 10, "reason": REASON})
    extended_to = case["statutory"]["due"]
    assert extended_to > before["promised_due"]
    after = wait_for(lambda: (lambda p: p if p["extended_due"] else None)(public()),
                     what="deadline_extended reaching intake's progress")
    assert (after["extension_days"], after["extension_reason"], after["extended_due"]) == (10, REASON, extended_to)
    assert f"已延期 10 个工作日，原因：{REASON}" in after["promised_due_explained"]
    assert after["promised_due"] == case["promised"]["due"]          # approval's own promised date
    page = httpx.get(f"{clerk.base}/progress", params={"case": number, "code": code}, timeout=30)
    text = html.unescape(page.text)
    y, m, d = extended_to.split("-")
    assert page.status_code == 200 and "已延期 10 个工作日" in text and f"延期原因：{REASON}" in text
    assert f"{y}年{int(m)}月{int(d)}日" in text and "审批延长办理期限" in text
