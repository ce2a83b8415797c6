"""A new item from the workbench's form (issue 19): the unit admin fills in the elements, the catalogue's refusal
comes back beside the field it names (in Chinese, the form as filled in), and the draft is then published with the
existing item page."""

from __future__ import annotations

import html
import re
import secrets
from urllib.parse import urlencode

from gateway.pages_kit import csrf_of
from gateway.tests.test_pages import gateway


def filled(**over) -> dict[str, str | list[str]]:
    code = f"H{secrets.randbelow(10 ** 8):08d}"
    form = {
        "name": f"工作台新建事项{code}", "basic_code": code, "implementation_code": "", "item_type": "07",
        "exercise_level": "4", "case_kind": "2", "department": "凉州区民政局",
        "legal_basis": "《社会救助暂行办法》第四十七条", "acceptance_conditions": "具有本区户籍、遭遇急难的家庭",
        "targets": ["natural_person"], "statutory_limit_days": "20", "promised_limit_days": "10",
        "keywords": "救助，急难", "handling_place": "凉州区政务服务中心 3 号窗口", "consult_phone": "0935-1234567",
        "scenarios[0].code": "S1", "scenarios[0].name": "首次申请",
        "scenarios[0].materials[0].code": "M1", "scenarios[0].materials[0].name": "居民身份证",
        "scenarios[0].materials[0].core": "1", "scenarios[0].materials[0].form": "原件",
        "scenarios[0].materials[1].code": "M2", "scenarios[0].materials[1].name": "困难情况说明",
        "scenarios[0].materials[1].waivable": "1", "scenarios[0].materials[1].makeup_days": "3",
    }
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def error_beside(page: str, field: str) -> str:
    anchor = "error-" + field.replace("[", "-").replace("]", "").replace(".", "-")
    m = re.search(rf'id="{re.escape(anchor)}">([^<]*)</span>', page)
    assert m, (field, re.findall(r'id="(error-[^"]*)"', page), page[page.find("<main>"):][:1500])
    return html.unescape(m.group(1))


def test_a_unit_admin_creates_an_item_from_the_form_with_each_refusal_beside_its_field_then_publishes_it(
        catalogue_server, oidc, verifier, tokens):
    gw = gateway(catalogue_server, oidc, verifier)
    token = tokens["county.admin"]
    bearer = {"authorization": f"Bearer {token}"}
    headers = {**bearer, "content-type": "application/x-www-form-urlencoded"}

    def post(form: dict, csrf: str | None = None):
        return gw.post("/console/catalogue/new", headers=headers,
                       content=urlencode({"csrf": csrf_of(token) if csrf is None else csrf, **form}, doseq=True))

    page = gw.get("/console/catalogue/new", headers=bearer)
    assert page.status_code == 200 and 'id="new-item-form"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'href="/console/catalogue/new"' in gw.get("/console", headers=bearer).text
    # each refusal beside the field it names, the rest of the form as filled in
    for over, field, words in [
        ({"legal_basis": ""}, "legal_basis", "设定依据不能为空"),
        ({"acceptance_conditions": ""}, "acceptance_conditions", "受理条件不能为空"),
        ({"promised_limit_days": "十天"}, "promised_limit_days", "应为不超过 4 位的非负整数"),
        ({"promised_limit_days": "30"}, "promised_limit_days", "承诺办结时限不能长于法定办结时限"),
        ({"case_kind": "1"}, "promised_limit_days", "即办件当场办结，承诺办结时限应为 0"),
        ({"targets": []}, "targets", "服务对象不能为空"),
        ({"scenarios[0].materials[0].waivable": "1"}, "scenarios[0].materials[0].waivable", "核心材料"),
        ({"scenarios[0].materials[1].makeup_days": "x"}, "scenarios[0].materials[1].makeup_days", "补交时限应为"),
        ({"scenarios[0].materials[1].code": "M1"}, "scenarios[0].materials[1].code", "材料编码重复"),
        ({"scenarios[0].name": ""}, "scenarios[0].name", "办理情形名称不能为空"),
        ({"basic_code": "基本编码!"}, "basic_code", "基本编码"),
    ]:
        form = filled(**over)
        r = post(form)
        assert r.status_code == 422 and "text/html" in r.headers["content-type"], (over, r.status_code)
        assert words in error_beside(r.text, field), (over, error_beside(r.text, field))
        assert 'role="alert" id="form-errors"' in r.text and html.escape(form["name"]) in r.text
    # the good form: a draft of the unit, on its item page
    form = filled()
    r = post(form)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/catalogue/")
    item_id = r.headers["location"].rsplit("/", 1)[1]
    item = gw.get(f"/api/v1/catalogue/items/{item_id}", headers=bearer).json()
    assert item["status"] == "draft" and item["tenant"] == "620602"
    el = item["elements"]
    assert (el["name"], el["promised_limit_days"], el["statutory_limit_days"], el["keywords"]) == (
        form["name"], 10, 20, ["救助", "急难"])
    mats = el["scenarios"][0]["materials"]
    assert [(m["code"], m["core"], m["waivable"], m["makeup_days"]) for m in mats] == [
        ("M1", True, False, 0), ("M2", False, True, 3)]
    # the same basic code again: refused beside it
    r = post(filled(basic_code=form["basic_code"]))
    assert r.status_code == 422 and "已有基本编码" in error_beside(r.text, "basic_code")
    # then published with the existing item page
    page = gw.get(f"/console/catalogue/{item_id}", headers=bearer)
    assert page.status_code == 200 and 'id="publish-form"' in page.text
    r = gw.post(f"/console/catalogue/{item_id}/publish", headers=headers, content=f"csrf={csrf_of(token)}")
    assert r.status_code == 303
    assert gw.get(f"/api/v1/catalogue/items/{item_id}", headers=bearer).json()["status"] == "published"
    # walls: no CSRF, a clerk, another unit's admin
    assert post(filled(), csrf="").status_code == 403
    clerk = tokens["county.clerk"]
    r = gw.post("/console/catalogue/new", content=urlencode({"csrf": csrf_of(clerk), **filled()}, doseq=True),
                headers={"authorization": f"Bearer {clerk}", "content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 403 and "您的角色不能使用此页面" in r.text
    other = gw.get("/api/v1/catalogue/items?include_drafts=true&limit=200",
                   headers={"authorization": f"Bearer {tokens['wenchuan.admin']}"})
    assert item_id not in other.text
