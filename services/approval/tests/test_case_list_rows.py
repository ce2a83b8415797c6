"""The case list reads its page's cases in one statement (issue 22 item 4: it loaded each listed case as GetCase
does, a statement per case). Each listed case is what GetCase answers for it, but for what only the full read
gives (the history, the deadline changes, the explanations and day-by-day traces of the deadlines), in the states
that fill the case's parts: a step claimed, the clock suspended (the ledger), a decision with its certificate."""

from __future__ import annotations

from sanji.approval.v1 import approval_pb2 as pb

from services.approval.tests.conftest import get, reviewed, step_of

TOWN = "620602001"        # 东大街街道: dongdajie.reviewer and dongdajie.decider
REVIEWER, DECIDER = "dongdajie.reviewer", "dongdajie.decider"
FULL_READ_ONLY = ("history", "deadline_changes", "promised_explain", "statutory_explain")


def _listed(as_, user: str) -> list[pb.Case]:
    out: list[pb.Case] = []
    while True:
        page = as_(user).ListCases(pb.ListCasesRequest(limit=7, offset=len(out)))
        out += page.cases
        if len(page.cases) < 7:
            return out


def _as_listed(full: pb.Case) -> pb.Case:
    for name in FULL_READ_ONLY:
        full.ClearField(name)
    full.promised.ClearField("trace")
    full.statutory.ClearField("trace")
    if full.HasField("delivery"):
        full.delivery.due.ClearField("trace")
    return full


def test_each_listed_case_is_its_full_read_without_the_history(bus, as_):
    in_review = bus.accepted(TOWN).case_number
    suspended = bus.accepted(TOWN).case_number
    case = get(as_, suspended, REVIEWER)
    as_(REVIEWER).ClaimTask(pb.ClaimTaskRequest(step_id=step_of(case, "review").id))
    as_(REVIEWER).SuspendClock(pb.SuspendClockRequest(case_id=case.id, procedure="expert_review",
                                                      reason="组织专家评审", days=5))
    decided = bus.accepted(TOWN).case_number
    reviewed(as_, decided, REVIEWER, viewer=REVIEWER)
    case = get(as_, decided, REVIEWER)
    as_(DECIDER).ClaimTask(pb.ClaimTaskRequest(step_id=step_of(case, "decision").id))
    as_(DECIDER).Decide(pb.DecideRequest(case_id=case.id, outcome="approve", opinion="同意"))

    listed = _listed(as_, REVIEWER)
    by_number = {c.case_number: c for c in listed}
    assert len(by_number) == len(listed) and {in_review, suspended, decided} <= set(by_number)
    for row in listed:
        full = get(as_, row.case_number, REVIEWER)
        assert full.history                   # what the list leaves out is there to leave out
        assert row == _as_listed(full), row.case_number
    # the states above fill every part a listed case carries
    assert by_number[suspended].ledger and by_number[suspended].clock_suspended
    assert step_of(by_number[suspended], "review").claimed_by == REVIEWER
    assert by_number[decided].decision.outcome and by_number[decided].certificate.number
    assert by_number[in_review].status == pb.CASE_STATUS_REVIEW and by_number[in_review].promised.due
    # another unit (the county) lists none of them
    county = {c.case_number for c in _listed(as_, "county.reviewer")}
    assert not county & {in_review, suspended, decided}
