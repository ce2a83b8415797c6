"""秒批 rules without I/O (issue 21 item 7; seed 003 §28: “推出一批‘秒批、秒办’事项 … 实现事项‘即来即办、即来即批’”)."""

from __future__ import annotations

import datetime as dt

import pytest

from shared.autoapproval import Facts, describe, evaluate, parse_rule
from shared.errors import InvalidArgument
from shared.idnumbers import birth_date_of

TODAY = dt.date(2026, 10, 9)


def test_an_old_age_allowance_is_decided_from_the_birth_date_the_id_number_carries():
    born = birth_date_of("620602194501011230")
    assert born == dt.date(1945, 1, 1)
    verdict = evaluate("age_at_least:80", Facts(birth_date=born), TODAY)
    assert verdict.passed and verdict.rule_id == "秒批规则 age_at_least:80 v1" and "年满 81 周岁" in verdict.explanation
    # the day before the 80th birthday is not yet 80
    assert not evaluate("age_at_least:80", Facts(birth_date=dt.date(1946, 10, 10)), TODAY).passed
    assert evaluate("age_at_least:80", Facts(birth_date=dt.date(1946, 10, 9)), TODAY).passed
    # an enterprise has no age: the rule does not hold, a person decides
    assert not evaluate("age_at_least:80", Facts(birth_date=None, natural_person=False), TODAY).passed
    assert describe("age_at_least:80") == "申请人年满 80 周岁（按居民身份证号码中的出生日期核验）"


@pytest.mark.parametrize("spec", ["", "age_at_least", "age_at_least:", "age_at_least:0", "age_at_least:200",
                                  "income_below:3000", "AGE_AT_LEAST:80", "age_at_least:80;x"])
def test_a_malformed_or_unknown_rule_is_refused_naming_the_field(spec):
    with pytest.raises(InvalidArgument) as e:
        parse_rule(spec, "elements.auto_approval")
    assert e.value.field == "elements.auto_approval" and not e.value.message.isascii()


def test_birth_date_of_reads_only_resident_ids():
    assert birth_date_of("91620602MA7ABCDE1X") is None
    assert birth_date_of("620602194513401230") is None          # no 13th month
