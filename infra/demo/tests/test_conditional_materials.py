"""A material only some applicants need belongs to the 办理情形 that needs it (issue 19): the demo's
城市基础设施配套费征收 once listed 「减免缓缴的批准文件（符合减免条件的）」 as a waivable material of its one
情形, so an applicant who asks for no reduction could be accepted only on a make-up promise (容缺)."""

from __future__ import annotations

import json
import re

from infra.demo.users import CATALOGUE_JSON

# a name that says the material is needed only when a condition holds: 「（符合…的）」「（如有）」「（…的提供）」
CONDITIONAL = re.compile(r"（(符合.*的|如有|.*的提供|.*的需提供)）$")


def items() -> list[dict]:
    return json.loads(CATALOGUE_JSON.read_text(encoding="utf-8"))


def test_no_scenario_asks_every_applicant_for_a_material_only_some_need():
    found = [(it["name"], sc["name"], m["name"]) for it in items() for sc in it["scenarios"]
             for m in sc["materials"] if CONDITIONAL.search(m["name"])]
    assert found == [], f"conditional materials listed for everyone of a 情形: {found}"


def test_the_infrastructure_fee_has_a_scenario_with_and_one_without_the_reduction():
    it = next(i for i in items() if i["name"] == "城市基础设施配套费征收")
    plain, reduced = it["scenarios"]
    # without a reduction: the core materials are the whole list, nothing to promise
    assert all(m["core"] for m in plain["materials"]) and not any("减免" in m["name"] for m in plain["materials"])
    # with one: the approval is a core material of that 情形
    approval = next(m for m in reduced["materials"] if "减免" in m["name"])
    assert approval["core"] and not approval["waivable"]
    assert {m["name"] for m in plain["materials"]} < {m["name"] for m in reduced["materials"]}
