"""REST edge of onboarding (县区上线, issue 23 item 2): a province's administrator uploads a county's national
division files and staff list, the onboarding service queues the job and runs it; the administrator reads its
report by line back and takes the initial passwords once. The gateway holds no credentials: it forwards the
caller's token, and the service decides who may (the province's own `tenant_admin`, its own counties only).

Types and sizes are checked here (422 naming the field); the rules and the walls are the onboarding service's.
"""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from sanji.onboarding.v1 import onboarding_pb2 as pb
from sanji.onboarding.v1 import onboarding_pb2_grpc

from gateway.edge import User
from gateway.rest import Backend, file_response, to_json
from shared.errors import InvalidArgument, PermissionDenied
from shared.tenancy import Principal

router = APIRouter(tags=["县区上线"])
onboarding = Backend("onboarding", onboarding_pb2_grpc.OnboardingServiceStub)
P = "/api/v1/provinces/{province}"
PROVINCE = Path(pattern="^[0-9]{2}$", description="省代码（2 位）")
JOB_ID = Path(max_length=64)
FILES = ("areas", "streets", "villages", "staff")
# below the services' 16 MiB gRPC limit, with the other files beside it (the service says so in Chinese too)
MAX_FILE_BYTES = 15 * 1024 * 1024


async def read_upload(field: str, upload: UploadFile) -> pb.Upload:
    content = await upload.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise InvalidArgument(field, f"文件超过 {MAX_FILE_BYTES // 1048576} MB")
    return pb.Upload(content=content, filename=(upload.filename or f"{field}.csv")[-200:])


def own(p: Principal, province: str) -> None:
    """The path names the caller's own province (whether the caller is its administrator is the service's to say)."""
    if str(p.tenant) != province:
        raise PermissionDenied(f"只能访问本单位所在省级（{province}）的上线任务", field="province")


async def onboard_request(county: str, files: dict[str, UploadFile]) -> pb.OnboardCountyRequest:
    return pb.OnboardCountyRequest(county=county, **{k: await read_upload(k, u) for k, u in files.items()})


@router.post(f"{P}/counties", status_code=202, summary="上线本省的一个县（区）（省级管理员；排队执行，逐行报告）")
async def onboard_county(request: Request, p: User, province: str = PROVINCE,
                         county: str = Form(pattern="^[0-9]{6}$", description="县（区）区划代码（6 位）"),
                         areas: UploadFile = File(description="全国县级区划文件 areas.csv（UTF-8、带 BOM 或 GBK）"),
                         streets: UploadFile = File(description="全国乡级区划文件 streets.csv"),
                         villages: UploadFile = File(description="村级区划文件（本县、本省或全国）"),
                         staff: UploadFile = File(description="工作人员名单 username,name,unit_code,roles[,…]")):
    own(p, province)
    if not county.startswith(province):
        raise InvalidArgument("county", f"县（区）{county} 不在省 {province} 内")
    message = await onboard_request(county, {"areas": areas, "streets": streets, "villages": villages,
                                             "staff": staff})
    return to_json(onboarding.call(request, p, "OnboardCounty", message, at_least=30))


@router.get(f"{P}/onboarding-jobs", summary="本省的上线任务（新的在前）")
def list_jobs(request: Request, p: User, province: str = PROVINCE, limit: int = Query(50, ge=1, le=200),
              offset: int = Query(0, ge=0, le=100000)):
    own(p, province)
    return to_json(onboarding.call(request, p, "ListJobs", pb.ListJobsRequest(limit=limit, offset=offset)))


@router.get(f"{P}/onboarding-jobs/{{job_id}}", summary="上线任务的状态与逐行报告")
def get_job(request: Request, p: User, province: str = PROVINCE, job_id: str = JOB_ID):
    own(p, province)
    return to_json(onboarding.call(request, p, "GetJob", pb.GetJobRequest(job_id=job_id)))


@router.post(f"{P}/onboarding-jobs/{{job_id}}/credentials", summary="领取本任务设置的初始密码表（仅一次，领取后删除）")
def take_credentials(request: Request, p: User, province: str = PROVINCE, job_id: str = JOB_ID):
    own(p, province)
    doc = onboarding.call(request, p, "TakeCredentials", pb.GetJobRequest(job_id=job_id))
    return file_response(doc.content, doc.content_type, doc.filename)
