"""The workbench and the public pages in a real browser (issue 19): Playwright driving Debian's chromium
against the real platform (every service, the gateway, the loopback OIDC provider), logged in through the
login page with PKCE. Few and whole: one case from the window to the hand-out, the village agent on a phone,
the walls between units and roles, and the forms' CSRF check."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid

import httpx
import pytest

from services.fees.signing import sign_callback
from shared.clock import CHINA_TZ
from tests.browser.conftest import PHONE
from tests.test_e2e_intake import RESIDENTS, Api, submit

# a browser flow on a loaded machine (and the first test also starts the whole platform): more room than the
# suite's 300 s default before pytest-timeout calls it hung
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
COUNTY_ACCOUNT = "27050101040012345"   # 凉州区财政局非税收入汇缴结算户 (services/fees/demo.py)


def reload_until(staff, path: str, selector: str, text: str, timeout: float = 60) -> None:
    """Open `path` again until `selector` shows `text` (the services hear of each other through events)."""
    deadline = time.monotonic() + timeout
    while True:
        staff.goto(path)
        loc = staff.page.locator(selector)
        if loc.count() and text in loc.first.inner_text():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: {selector} never showed {text!r}")
        time.sleep(0.5)


def focused(page, tag: str) -> None:
    """Wait for the page's autofocus to land (on an element of `tag`) before the keyboard goes on."""
    page.wait_for_function(f"document.activeElement && document.activeElement.tagName === '{tag}'")


def public_progress(browser, base: str, case: str, code: str) -> str:
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{base}/progress?case={case}&code={code}")
        return page.inner_text("body")
    finally:
        context.close()


def test_a_case_from_the_window_through_the_back_office_and_the_fee_window_to_the_hand_out(
        browser, staff, demo_platform):
    base = demo_platform.gateway_url
    clerk = staff("county.clerk")
    page = clerk.page
    # the unit and its level are always on screen, and the clerk's menus only
    assert "凉州区" in page.inner_text("#who") and "县级政务服务中心" in page.inner_text("#who")
    menus = page.inner_text("nav.menus")
    assert "综合受理" in menus and "审批待办" not in menus and "收费" not in menus

    # keyboard only: the search has the focus, the first result and the first 情形 too, Enter submits
    clerk.goto("/console/window")
    page.keyboard.type("居民身份证换领")
    page.keyboard.press("Enter")
    page.wait_for_selector("#items")
    focused(page, "A")
    page.keyboard.press("Enter")                       # the first result
    page.wait_for_url(re.compile(r"/console/window/new\?item="))
    focused(page, "A")
    page.keyboard.press("Enter")                       # the first 办理情形
    page.wait_for_selector("#intake-form")
    focused(page, "INPUT")
    page.keyboard.type(RESIDENTS[3])                   # the ID number field has the focus
    with page.expect_response(lambda r: "/console/window/applicant" in r.url):
        page.keyboard.press("Tab")                     # on to the name: the prefill is asked for
    page.wait_for_function("document.activeElement && document.activeElement.id === 'applicant-name'")
    page.keyboard.press("Control+A")                   # over what the prefill may have brought
    page.keyboard.type("王秀英")
    page.keyboard.press("Tab")
    page.keyboard.type("13909350000")
    page.keyboard.press("Enter")                       # 收件
    page.wait_for_url(re.compile(r"/console/window/app/"))
    assert "已收件" in page.inner_text("#status")
    focused(page, "BUTTON")
    page.keyboard.press("Enter")                       # 受理 has the focus
    page.wait_for_selector("#print-notice")
    assert "已受理" in page.inner_text("#status")
    case_number, query_code = page.inner_text("#case-number"), page.inner_text("#query-code")
    app_url = page.url.split("?")[0]
    # the notice, printable at once: the link has the focus, and it is the acceptance notice's PDF
    assert page.evaluate("document.activeElement.id") == "print-notice"
    pdf = clerk.context.request.get(base + page.get_attribute("#print-notice", "href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body()[:4] == b"%PDF"
    told = public_progress(browser, base, case_number, query_code)
    # the promised finish date with its working-day count (issue 19)
    assert "已受理" in told and re.search(r"承诺办结日期：\d{4}年\d{1,2}月\d{1,2}日", told), told
    assert "受理次日起计" in told or "即办件" in told

    # the reviewer claims it from the queue and reviews it; the decider decides
    reviewer = staff("county.reviewer")
    reload_until(reviewer, "/console/queue", "#queue", case_number)
    reviewer.page.click(f"#queue button[data-case='{case_number}']")
    # the clock stops for an expert review (with its notice to the applicant) and runs again
    reviewer.page.fill("#suspend-form input[name=procedure]", "专家评审")
    reviewer.page.fill("#suspend-form input[name=days]", "5")
    reviewer.page.fill("#suspend-form input[name=reason]", "照片质量需专家鉴别")
    reviewer.page.click("#suspend-form button")
    assert "暂停计时中" in reviewer.page.inner_text("main") and "专家评审" in reviewer.page.inner_text("main")
    reviewer.page.click("#resume-form button")
    assert reviewer.page.locator("#suspend-form").count() == 1
    # a site inspection (现场踏勘): scheduled for tomorrow, then its findings recorded
    tomorrow = (dt.datetime.now(CHINA_TZ).date() + dt.timedelta(days=1)).isoformat()
    reviewer.page.select_option("#inspection-form select[name=mode]", "independent")
    reviewer.page.fill("#inspection-form input[name=scheduled_on]", tomorrow)
    reviewer.page.fill("#inspection-form input[name=inspectors]", "张审查、王工")
    reviewer.page.click("#inspection-form button")
    assert "待踏勘" in reviewer.page.inner_text("#inspection-list") and tomorrow in reviewer.page.inner_text(
        "#inspection-list")
    reviewer.page.fill(".inspection-record textarea[name=findings]", "现场核对申请人居住地址属实")
    reviewer.page.click(".inspection-record button")
    assert "符合要求：现场核对申请人居住地址属实" in reviewer.page.inner_text("#inspection-list")
    assert "记录现场踏勘" in reviewer.page.inner_text("#history")
    reviewer.page.fill("#review-form textarea[name=opinion]", "材料齐全，符合换领条件")
    reviewer.page.click("#review-form button[type=submit]")
    assert "材料齐全，符合换领条件" in reviewer.page.inner_text("#steps")
    # the case page shows its due dates with the working-day trace
    assert "承诺办结期限" in reviewer.page.inner_text("main") and reviewer.page.locator("table.trace").count()
    decider = staff("county.decider")
    reload_until(decider, "/console/queue", "#queue", case_number)
    decider.page.click(f"#queue button[data-case='{case_number}']")
    decider.page.fill("#decide-form textarea[name=opinion]", "准予换领")
    decider.page.click("#decide-form button[type=submit]")
    assert "准予" in decider.page.inner_text("#decision")
    assert "待缴费" in decider.page.inner_text("#case-status")

    # the cashier issues the one notice; the province's signed callback pays it
    cashier = staff("county.cashier")
    reload_until(cashier, f"/console/cashier/{case_number}", "#fee-status", "已核定", timeout=60)
    cashier.page.click("#notice-form button")
    notice_number = cashier.page.inner_text("#notice-number")
    assert "待缴款" in cashier.page.inner_text("#notice-status")
    issued_at = Api(demo_platform, "county.cashier").get(f"/api/v1/fees/cases/{case_number}")["notice"]["issued_at"]
    fields = {"payment_id": f"GSPAY{uuid.uuid4().hex[:16].upper()}", "notice_number": notice_number,
              "amount_fen": "2000", "paid_at": issued_at, "payee_account": COUNTY_ACCOUNT,
              "payer_name": "王秀英", "channel": "unionpay"}
    r = httpx.post(f"{base}/api/v1/payments/callback", json={**fields, "signature": sign_callback(fields)}, timeout=30)
    assert r.status_code == 200 and r.json()["settled"] is True, r.text
    reload_until(cashier, f"/console/cashier/{case_number}", "#notice-status", "已缴款")
    # a refund: the cashier asks for it, the head approves it (fees refuses one person doing both)
    cashier.page.fill("#refund-form input[name=amount]", "5.00")
    cashier.page.fill("#refund-form input[name=reason]", "多收工本费")
    cashier.page.click("#refund-form button")
    assert "多收工本费" in cashier.page.inner_text("#refunds") and "待审批" in cashier.page.inner_text("#refunds")
    assert cashier.page.locator(".refund-decide").count() == 0        # the cashier cannot approve it
    head = staff("county.head")
    head.goto("/console/refunds")
    row = head.page.locator("#refunds tr", has_text="多收工本费")
    row.locator("input[name=note]").fill("核实无误")
    row.locator("button[value='1']").click()
    assert "已批准" in head.page.locator("#refunds tr", has_text="多收工本费").inner_text()

    # the result is ready at the window: the clerk hands it out
    reload_until(clerk, app_url.removeprefix(base), "#status", "待出件")
    page.fill("#pickup-form input[name=id_number]", RESIDENTS[3])
    page.fill("#pickup-form input[name=what]", "居民身份证")
    page.click("#pickup")
    assert "已出件" in page.inner_text("#status")

    # the public progress page (no login, a phone) tells each step
    told = public_progress(browser, base, case_number, query_code)
    for step in ("受理", "决定", "出件"):
        assert step in told, told

    # the QR code's rating page (一事一评): the case number comes with the link, the applicant proves the ID
    context = browser.new_context(viewport=PHONE)
    try:
        rating = context.new_page()
        rating.goto(f"{base}/rate?case={case_number}")
        rating.fill("#rate-form input[name=id_suffix]", RESIDENTS[3][-6:])
        rating.check("#rate-form input[name=level][value='1']")
        rating.fill("#rate-form textarea[name=text]", "窗口办事快")
        deadline = time.monotonic() + 60      # complaints hears of the case through its events
        while True:
            rating.click("#rate-form button[type=submit]")
            if rating.locator("#rated").count() or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert "非常满意" in rating.inner_text("#rated")
    finally:
        context.close()


def test_the_public_files_a_complaint_on_a_phone_and_follows_it(browser, staff, demo_platform):
    base = demo_platform.gateway_url
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{base}/fees")
        assert page.locator("#fee-items tr").count() > 1 and "12345" in page.inner_text("main")
        page.goto(f"{base}/complaints/new")
        page.fill("#complaint-form textarea[name=content]", "窗口工作人员让我跑了三次还没办成，材料要求前后说法不一。")
        page.fill("#complaint-form input[name=unit]", "620602")
        page.fill("#complaint-form input[name=name]", "赵建华")
        page.fill("#complaint-form input[name=phone]", "13909351234")
        page.click("#complaint-form button[type=submit]")
        number = page.inner_text("#complaint-number")
        page.click("text=查询办理情况")
        page.fill("#follow-form input[name=phone_last4]", "1234")
        page.click("#follow-form button[type=submit]")
        assert number in page.inner_text("main") and "结果期限" in page.inner_text("#complaint-status")
        page.fill("#follow-form input[name=phone_last4]", "9999")
        page.click("#follow-form button[type=submit]")
        assert page.locator("#complaint-status").count() == 0 and page.locator(".error").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1

        # the county's complaint handler takes it on and reports its progress; the complainant sees it
        handler = staff("county.complaints")
        handler.goto("/console/complaints")
        handler.page.click(f"#complaints a:text('{number}')")
        handler.page.click("button:text('由我办理')")
        handler.page.fill("form[action$='/progress'] textarea", "已调阅窗口记录，正在核实材料要求")
        handler.page.click("form[action$='/progress'] button")
        assert "已报动态" in handler.page.inner_text("main")
        page.fill("#follow-form input[name=phone_last4]", "1234")
        page.click("#follow-form button[type=submit]")
        assert "正在核实材料要求" in page.inner_text("main")
    finally:
        context.close()


def test_a_village_agent_on_a_phone_registers_a_proxy_request_submits_it_and_hands_over_the_originals(
        browser, staff):
    agent = staff("village.agent", viewport=PHONE)
    page = agent.page
    assert "村（社区）便民服务代办点" in page.inner_text("#who")
    agent.goto("/console/agent")
    page.click("main button[type=submit]")             # the first item listed for proxy
    page.fill("#proxy-form input[name=name]", "马桂兰")
    page.fill("#proxy-form input[name=id_number]", RESIDENTS[5])
    page.fill("#proxy-form input[name=phone]", "13800000000")
    page.select_option("#proxy-form select[name=special_group]", "elderly")
    page.fill("#proxy-form input[name=signed_on]", "2026-09-29")
    page.fill("#proxy-form input[name=document_ref]", f"南苑代办〔2026〕{uuid.uuid4().hex[:4]}号")
    page.click("#proxy-form button[type=submit]")
    page.wait_for_selector("#submit-form")
    # nothing wider than the phone: the page reads without scrolling sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    page.click("#submit-form button[type=submit]")
    assert "已提交受理单位" in page.inner_text("#proxy-status") or "已受理" in page.inner_text("#proxy-status")
    page.click("#handover-form button[type=submit]")
    assert "待接收" in page.inner_text("#chain")

    # the township centre confirms receipt: the other side of the hand-over
    township = staff("township.clerk")
    township.goto("/console/handovers")
    row = township.page.locator("#incoming tr", has_text="待接收").first
    row.locator("input[name=note]").fill("原件齐全")
    row.locator("button").click()
    assert "已接收" in township.page.inner_text("#incoming")
    agent.page.reload()
    chain = agent.page.inner_text("#chain")
    assert "已接收" in chain and "待接收" not in chain


def test_walls_between_units_and_roles_are_pages_in_chinese(browser, staff, demo_platform):
    county = Api(demo_platform, "county.clerk")
    item = next(i for i in county.get("/api/v1/catalogue/items", limit=200)["items"]
                if i["elements"]["name"] == "居民身份证换领" and i["listing"] == "LISTING_KIND_OWN")
    sc = item["elements"]["scenarios"][0]
    app = submit(county, item, sc, RESIDENTS[1], [m["code"] for m in sc["materials"]])

    township = staff("township.clerk")
    r = township.goto(f"/console/window/app/{app['id']}")
    assert r.status in (403, 404)
    body = township.page.inner_text("main")
    assert "王秀英" not in body and "Traceback" not in body and re.search(r"[\u4e00-\u9fff]", body)

    # a unit admin proposes a local holiday; the same person is not offered its approval (approval refuses it:
    # another admin or the head must), and the head is
    admin = staff("county.admin")
    admin.goto("/console/calendar")
    admin.page.fill("#holiday-form input[name=day]", "2026-11-18")
    admin.page.fill("#holiday-form input[name=name]", "浏览器测试节")
    admin.page.click("#holiday-form button")
    row = admin.page.locator("#changes tr", has_text="浏览器测试节").first
    assert "待批准" in row.inner_text() and row.locator("button").count() == 0
    head = staff("county.head")
    head.goto("/console/calendar")
    assert head.page.locator("#changes tr", has_text="浏览器测试节").first.locator("button").count() == 1

    reviewer = staff("county.reviewer")
    r = reviewer.goto("/console/window")
    assert r.status == 403 and "您的角色不能使用此页面" in reviewer.page.inner_text("main")
    assert "综合受理" not in reviewer.page.inner_text("nav.menus")


def test_a_form_without_its_csrf_token_is_refused_and_the_session_is_a_guarded_cookie(browser, staff,
                                                                                      demo_platform):
    clerk = staff("county.clerk")
    session = next(c for c in clerk.context.cookies() if c["name"] == "sanji_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    r = clerk.goto("/console/window?q=居民身份证换领")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    focused(clerk.page, "A")
    clerk.page.keyboard.press("Enter")
    clerk.page.wait_for_url(re.compile(r"/console/window/new\?item="))
    focused(clerk.page, "A")
    clerk.page.keyboard.press("Enter")
    clerk.page.wait_for_selector("#intake-form")
    # the form loses its token (as a forged form from another site would lack it): refused, nothing taken
    clerk.page.evaluate("document.querySelector('#intake-form input[name=csrf]').remove()")
    clerk.page.fill("#id_number", RESIDENTS[0])
    with clerk.page.expect_response(lambda r: "/console/window/applicant" in r.url):
        clerk.page.keyboard.press("Tab")
    clerk.page.wait_for_function("document.activeElement && document.activeElement.id === 'applicant-name'")
    clerk.page.fill("#applicant-name", "王秀英")
    with clerk.page.expect_navigation() as nav:
        clerk.page.click("#intake-form button[type=submit]")
    assert nav.value.status == 403 and "防伪" in clerk.page.inner_text("main")
    # a post with another session's token is refused too
    r = clerk.context.request.post(f"{clerk.base}/console/window/new", form={"csrf": "0" * 64, "item": "x"})
    assert r.status == 403
    # logout (a form with its token) ends the session
    clerk.goto("/console")
    clerk.page.click("header form button")
    clerk.page.wait_for_url(f"{clerk.base}/")
    assert not [c for c in clerk.context.cookies() if c["name"] == "sanji_session"]
    clerk.goto("/console/window")
    assert "/console/window" not in clerk.page.url         # sent to the login


def test_a_unit_admin_keeps_the_fee_catalogue(browser, staff, demo_platform):
    """The fee catalogue page (gateway/pages_admin.py): a new fee item as a draft, published (then public on
    /fees with its basis), cancelled with its reason — fees' own calls, its rules."""
    admin = staff("county.admin")
    assert "收费目录" in admin.page.inner_text("nav.menus")
    admin.goto("/console/fees")
    name = f"浏览器测试收费{uuid.uuid4().hex[:4]}"
    definition = {"fee_code": f"FEE-WB-{uuid.uuid4().hex[:6].upper()}", "name": name,
                  "basis": "《甘肃省行政事业性收费项目目录》（测试）", "collecting_unit": "凉州区公安局",
                  "category": "行政事业性收费",
                  "standard": {"kind": "STANDARD_KIND_FIXED", "amount_fen": "1000", "text": "每件 10 元"}}
    admin.page.fill("#fee-create-form textarea[name=definition]", json.dumps(definition, ensure_ascii=False))
    admin.page.click("#fee-create-form button")
    row = admin.page.locator("#fee-items tr", has_text=name)
    assert "草稿" in row.inner_text()
    row.locator(".fee-publish button").click()
    row = admin.page.locator("#fee-items tr", has_text=name)
    assert "已发布" in row.inner_text()
    public = browser.new_context(viewport=PHONE)
    try:
        page = public.new_page()
        page.goto(f"{demo_platform.gateway_url}/fees?region=620602")
        assert name in page.inner_text("body") and "收费项目目录》（测试）" in page.inner_text("body")
    finally:
        public.close()
    row.locator("summary").click()
    row.locator(".fee-cancel input[name=reason]").fill("测试结束")
    with admin.page.expect_navigation():
        row.locator(".fee-cancel button").click()
    # cancelled: out of the unit's catalogue in force and off the public list
    assert admin.page.locator("#fee-items").count() and name not in admin.page.inner_text("#fee-items")
    public = browser.new_context(viewport=PHONE)
    try:
        page = public.new_page()
        page.goto(f"{demo_platform.gateway_url}/fees?region=620602")
        assert name not in page.inner_text("body")
    finally:
        public.close()
