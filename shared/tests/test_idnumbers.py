"""One resident-ID rule for every service: an ID a village agent registers is one the window takes."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from services.agency import domain as agency
from services.intake import applicants as intake
from shared.errors import InvalidArgument
from shared.idnumbers import PROVINCES, check_resident_id, resident_id_check_char

TODAY = dt.date(2026, 5, 20)


def _accepted_by_agency(number: str) -> bool:
    try:
        agency.check_resident(agency.Resident("张桂兰", number), TODAY)
    except InvalidArgument:
        return False
    return True


def _accepted_by_intake(number: str) -> bool:
    try:
        intake.validate_applicant(intake.Applicant(kind="natural_person", name="张桂兰", id_type="resident_id",
                                                   id_number=number), ["natural_person"], TODAY)
    except InvalidArgument as exc:
        assert exc.field == "applicant.id_number", exc      # nothing else about the applicant is wrong
        return False
    return True


def _numbers(n: int) -> list[str]:
    """Well-checksummed IDs over every two-digit area prefix (real and not), real and impossible dates,
    plus the same with a wrong check character."""
    rng = random.Random(20261206)
    out = []
    for _ in range(n):
        area = f"{rng.randint(10, 99)}{rng.randint(0, 9999):04d}"
        birth = f"{rng.randint(1890, 2030)}{rng.randint(1, 13):02d}{rng.randint(1, 31):02d}"
        first = area + birth + f"{rng.randint(0, 999):03d}"
        check = resident_id_check_char(first)
        out.append(first + check)
        out.append(first + ("0" if check != "0" else "1"))
    return out


def test_agency_and_intake_accept_exactly_the_same_resident_ids():
    numbers = _numbers(2000)
    verdicts = [(n, _accepted_by_agency(n), _accepted_by_intake(n)) for n in numbers]
    differing = [(n, a, i) for n, a, i in verdicts if a != i]
    assert not differing, differing[:5]
    # the sample is not one-sided: both kinds occur, and the province check is among the refusals
    assert any(a for _, a, _ in verdicts) and not all(a for _, a, _ in verdicts)
    assert any(int(n[:2]) not in PROVINCES and resident_id_check_char(n[:17]) == n[17] and not a
               for n, a, _ in verdicts)


def test_an_id_with_a_province_code_that_does_not_exist_is_refused():
    first = "990105194912310" + "02"
    with pytest.raises(InvalidArgument) as e:
        check_resident_id(first + resident_id_check_char(first), "resident.id_number", TODAY)
    assert "地区码" in e.value.message and e.value.field == "resident.id_number"
