"""The unit admin's catalogue in a real browser (issue 19): a new item from the form — a refusal shown beside its
field, corrected, saved, then published from its item page and public in the guide search — and the province's
published list imported: the file chosen, the per-line report read, the import confirmed."""

from __future__ import annotations

import uuid

from tests.browser.conftest import PHONE


def test_a_unit_admin_creates_and_publishes_an_item_and_imports_a_list(browser, staff, demo_platform):
    admin = staff("county.admin")
    page = admin.page
    admin.goto("/console")
    page.click("#new-item")
    page.wait_for_selector("#new-item-form")
    code = f"WB{uuid.uuid4().hex[:8].upper()}"
    name = f"浏览器新建事项{code}"
    for field, value in [("name", name), ("basic_code", code), ("department", "凉州区民政局"),
                         ("statutory_limit_days", "20"), ("promised_limit_days", "30"),
                         ("scenarios[0].code", "S1"), ("scenarios[0].name", "首次申请"),
                         ("scenarios[0].materials[0].code", "M1"), ("scenarios[0].materials[0].name", "居民身份证")]:
        page.fill(f"#new-item-form [name='{field}']", value)
    page.fill("#new-item-form [name=legal_basis]", "《社会救助暂行办法》")
    page.fill("#new-item-form [name=acceptance_conditions]", "本区户籍居民")
    page.click("#new-item-form button[type=submit]")
    # the catalogue's refusal beside the field, the rest as filled in
    assert "承诺办结时限不能长于法定办结时限" in page.inner_text("#error-promised_limit_days")
    assert page.input_value("#new-item-form [name=name]") == name
    page.fill("#new-item-form [name=promised_limit_days]", "10")
    with page.expect_navigation():
        page.click("#new-item-form button[type=submit]")
    assert "草稿" in page.inner_text("#item-status")
    item_page = page.url
    with page.expect_navigation():
        page.click("#publish-form button")              # back to the unit's list
    page.goto(item_page)
    assert "已发布" in page.inner_text("#item-status")
    public = browser.new_context(viewport=PHONE)
    try:
        p = public.new_page()
        p.goto(f"{admin.base}/?q={code}&region=620602")
        assert name in p.inner_text("body")
    finally:
        public.close()

    # the province's published list for 凉州区: chosen, reported line by line, then confirmed
    basic = f"WBL{uuid.uuid4().hex[:8].upper()}"
    good = (f"区民政局,未分类,浏览器导入事项{basic},{basic}-620602000000-000-1162060201-1-00,{basic},620602000000,1,"
            "1162060201")
    bad = "区民政局,未分类,区划不对的事项,X1-511602000000-1,X1,511602000000,1,1"
    content = ("department,group,name,implementation_code,basic_code,area_code,task_type,dept_code\n"
               f"{good}\n{bad}\n").encode("gbk")
    admin.goto("/console")
    page.click("#import-items")
    page.set_input_files("#import-form input[type=file]", files=[
        {"name": "凉州区事项清单.csv", "mimeType": "text/csv", "buffer": content}])
    with page.expect_navigation():
        page.click("#import-form button[type=submit]")
    assert "预览（尚未导入）" in page.inner_text("#report-title")
    report = page.inner_text("#import-lines")
    assert "不是本单位的" in report and f"浏览器导入事项{basic}" in report
    with page.expect_navigation():
        page.click("#confirm-form button[type=submit]")
    assert "导入结果" in page.inner_text("#report-title")
    assert "新建草稿 1 项" in page.inner_text("#report-counts").replace("\n", "").replace(" ", " ")
    admin.goto(f"/console?q={basic}")
    assert f"浏览器导入事项{basic}" in page.inner_text("#catalogue ~ table")
