"""Automatic approval (秒批) rules, plain Python: no I/O.

Seed 003 §28: “推出一批‘秒批、秒办’事项 … 实现事项‘即来即办、即来即批’”. An item whose conditions can be
checked by a rule (e.g. age from the ID number for an old-age allowance) may be marked for automatic approval:
its catalogue entry names the rule and its parameter (`age_at_least:80`); at acceptance the rule decides, and
the decision records the rule — with its version — as the decider, audited like a person's decision.

Shared by the catalogue (which checks the rule an item names exists and is well formed) and the approval
service (which applies it): a rule's meaning is defined once. A rule that changes meaning gets a new version,
so a decision always says which wording of the rule made it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import InvalidArgument

_SPEC = re.compile(r"^([a-z_]+):([0-9]{1,3})$")


@dataclass(frozen=True)
class Facts:
    """What a rule may look at: facts the window has verified at acceptance."""

    birth_date: dt.date | None = None          # from the applicant's resident ID number (GB 11643)
    natural_person: bool = True


@dataclass(frozen=True)
class Verdict:
    passed: bool
    rule_id: str            # the decider as recorded: "秒批规则 age_at_least:80 v1"
    explanation: str        # what the rule checked, in Chinese


@dataclass(frozen=True)
class AutoRule:
    code: str
    version: int
    title: str                                  # with {n} for the parameter
    low: int
    high: int
    check: Callable[[int, Facts, dt.date], tuple[bool, str]]


def _age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _age_at_least(n: int, facts: Facts, today: dt.date) -> tuple[bool, str]:
    if not facts.natural_person or facts.birth_date is None:
        return False, "申请人不是持居民身份证的自然人，无法按出生日期核验年龄"
    age = _age_on(facts.birth_date, today)
    born = f"申请人 {facts.birth_date.isoformat()} 出生，至 {today.isoformat()}"
    if age >= n:
        return True, f"{born} 年满 {age} 周岁，不低于 {n} 周岁"
    return False, f"{born} 为 {age} 周岁，未满 {n} 周岁"


RULES: dict[str, AutoRule] = {
    "age_at_least": AutoRule("age_at_least", 1, "申请人年满 {n} 周岁（按居民身份证号码中的出生日期核验）", 1, 150,
                             _age_at_least),
}


def parse_rule(spec: str, field: str) -> tuple[AutoRule, int]:
    """`age_at_least:80` → (the rule, 80); a clear refusal naming `field` otherwise."""
    m = _SPEC.match((spec or "").strip())
    if not m or m.group(1) not in RULES:
        known = "、".join(f"{r.code}:N（{r.title.format(n='N')}）" for r in RULES.values())
        raise InvalidArgument(field, f"秒批规则不正确：{spec!r}（可用：{known}）")
    rule, n = RULES[m.group(1)], int(m.group(2))
    if not rule.low <= n <= rule.high:
        raise InvalidArgument(field, f"秒批规则 {rule.code} 的参数应在 {rule.low} 至 {rule.high} 之间：{n}")
    return rule, n


def describe(spec: str) -> str:
    rule, n = parse_rule(spec, "auto_approval")
    return rule.title.format(n=n)


def evaluate(spec: str, facts: Facts, today: dt.date) -> Verdict:
    """Apply the rule an item names to the facts verified at acceptance."""
    rule, n = parse_rule(spec, "auto_approval")
    passed, why = rule.check(n, facts, today)
    return Verdict(passed, f"秒批规则 {rule.code}:{n} v{rule.version}", why)
