"""Text PostgreSQL cannot store (NUL) is refused at the edge of every gRPC method (issue 20: the large fuzz found
`GetApplicantProfile{id_number: "a\\x00b"}` and `GetFeeItem{fee_code: ...}` ending as INTERNAL)."""

from __future__ import annotations

import pytest
from sanji.intake.v1 import intake_pb2 as pb

from shared.grpc.server import nul_field


def test_a_clean_request_has_no_nul_field():
    req = pb.SubmitApplicationRequest(item_id="x", applicant=pb.Applicant(name="王丽"), form={"地址": "东大街 9 号"},
                                      materials=[pb.MaterialSubmission(code="M1")])
    assert nul_field(req) is None
    assert nul_field(pb.GetApplicantProfileRequest()) is None


@pytest.mark.parametrize("request_, field", [
    (pb.GetApplicantProfileRequest(id_number="\x00"), "id_number"),
    (pb.GetApplicantProfileRequest(id_number="a\x00b"), "id_number"),
    (pb.SubmitApplicationRequest(applicant=pb.Applicant(name="王\x00丽")), "applicant.name"),
    (pb.SubmitApplicationRequest(materials=[pb.MaterialSubmission(code="M1"), pb.MaterialSubmission(code="\x00")]),
     "materials[1].code"),
    (pb.SubmitApplicationRequest(form={"地址": "东\x00"}), "form.地址"),
    (pb.SubmitApplicationRequest(form={"\x00": "x"}), "form"),
])
def test_the_first_nul_is_named(request_, field):
    assert nul_field(request_) == field

