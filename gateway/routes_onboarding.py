"""REST edge of onboarding (县区上线, issue 23 item 2): a province's administrator uploads a county's national
division files and staff list, the onboarding service queues the job and runs it; the administrator reads its
report by line back and takes the initial passwords once. The gateway holds no credentials: it forwards the
caller's token, and the service decides who may (the province's own `tenant_admin`, its own counties only).

The upload is read here as a bounded multipart form (four files and the county's code); the rules and the walls
are the onboarding service's.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
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
FILES = {"areas": "全国县级区划文件 areas.csv（UTF-8、带 BOM 的 UTF-8 或 GBK）",
         "streets": "全国乡级区划文件 streets.csv", "villages": "村级区划文件（本县或本省的）",
         "staff": "工作人员名单 username,name,unit_code,roles[,email,password]"}
# the services take gRPC messages up to 16 MiB (shared/grpc/server.py): the four files together stay below it
MAX_FORM_BYTES = 15 * 1024 * 1024
ONBOARD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["county", *FILES],
    "properties": {"county": {"type": "string", "pattern": "^[0-9]{6}$", "description": "县（区）区划代码（6 位）"},
                   **{k: {"type": "string", "format": "binary", "description": d} for k, d in FILES.items()}}}}}}}


def own(p: Principal, province: str) -> None:
    """The path names the caller's own province (whether the caller is its administrator is the service's to say)."""
    if str(p.tenant) != province:
        raise PermissionDenied(f"只能访问本单位所在省级（{province}）的上线任务", field="province")


async def read_county_form(request: Request) -> tuple[dict[str, str], dict[str, pb.Upload]]:
    """The posted multipart form, bounded before it is parsed: its text fields and its files by field name."""
    too_large = InvalidArgument("villages", f"上传内容过大：合计最大 {MAX_FORM_BYTES // 1048576} MB"
                                            "（村级区划文件请只传本县或本省的）")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise too_large
    request._body = bytes(body)     # starlette parses the form from the body it has read
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidArgument("areas", "请以文件上传表单（multipart/form-data）提交")
    data = await request.form(max_files=len(FILES), max_fields=10, max_part_size=MAX_FORM_BYTES)
    fields: dict[str, str] = {}
    files: dict[str, pb.Upload] = {}
    for name, value in data.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, value.strip())
        elif name in FILES and name not in files:
            files[name] = pb.Upload(content=await value.read(), filename=(value.filename or f"{name}.csv")[-200:])
    return fields, files


def onboard_request(fields: dict[str, str], files: dict[str, pb.Upload], province: str) -> pb.OnboardCountyRequest:
    county = fields.get("county", "")
    if not (len(county) == 6 and county.isascii() and county.isdigit()):
        raise InvalidArgument("county", "县（区）区划代码应为 6 位数字")
    if not county.startswith(province):
        raise InvalidArgument("county", f"县（区）{county} 不在省 {province} 内")
    for kind, label in FILES.items():
        if not files.get(kind) or not files[kind].content:
            raise InvalidArgument(kind, f"缺少{label.split(' ')[0]}")
    return pb.OnboardCountyRequest(county=county, **files)


@router.post(f"{P}/counties", status_code=202, openapi_extra=ONBOARD_BODY,
             summary="上线本省的一个县（区）（省级管理员；排队执行，逐行报告）")
async def onboard_county(request: Request, p: User, province: str = PROVINCE):
    own(p, province)
    fields, files = await read_county_form(request)
    return to_json(onboarding.call(request, p, "OnboardCounty", onboard_request(fields, files, province),
                                    at_least=30))


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
