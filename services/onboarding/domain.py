"""The rules of onboarding a county as the province administrator's action (issue 23, item 2): who may (a
province's own `tenant_admin`, for a county of that province only), what a request must carry (the three
national division files and the staff list, within the size the platform's gRPC takes), and a job's states.
The steps themselves are infra/onboard/county.py's, the same the command runs. Plain Python, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shared.errors import InvalidArgument, PermissionDenied
from shared.tenancy import Principal, Role, UnitKind

FILES = ("areas", "streets", "villages", "staff")
FILE_LABELS = {"areas": "县级区划文件（areas.csv）", "streets": "乡级区划文件（streets.csv）",
               "villages": "村级区划文件", "staff": "工作人员名单"}
# every service takes gRPC messages up to 16 MiB (shared/grpc/server.py); the request's files together stay
# below it. The national streets file is 1.6 MB; the villages file is the county's or the province's (the
# whole country's, ~40 MB, is for the command on the host)
MAX_UPLOAD_BYTES = 15 * 1024 * 1024
COUNTY = re.compile(r"[0-9]{6}")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "已中止"}[self.value]


@dataclass(frozen=True)
class Upload:
    content: bytes
    filename: str


@dataclass
class Outcome:
    """What one run of the steps produced (the report as the command prints it)."""

    report: list[str] = field(default_factory=list)
    problems: list[tuple[str, int, str]] = field(default_factory=list)     # (file, line, message)
    lacks: list[str] = field(default_factory=list)
    units_imported: int = 0
    staff_provisioned: int = 0
    passwords_set: int = 0
    credentials: str | None = None          # CSV of the initial passwords this run set, None when it set none
    error: str = ""                         # why it stopped (Chinese); empty when it ran through


@dataclass
class Job:
    id: str
    province: str
    county: str
    status: JobStatus
    requested_by: str
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    report: list[str] = field(default_factory=list)
    problems: list[tuple[str, int, str]] = field(default_factory=list)
    lacks: list[str] = field(default_factory=list)
    units_imported: int = 0
    staff_provisioned: int = 0
    passwords_set: int = 0
    credentials_waiting: bool = False
    error: str = ""


def province_of(p: Principal, county: str) -> str:
    """The caller's province, when it may onboard `county`: its own administrator, a county of its own."""
    p.require(Role.TENANT_ADMIN)
    if p.tenant.kind is not UnitKind.PROVINCE:
        raise PermissionDenied("只有省级管理员可以上线县（区）", field="county")
    if not COUNTY.fullmatch(county or ""):
        raise InvalidArgument("county", f"县（区）代码应为 6 位数字：{county!r}")
    province = str(p.tenant)
    if not county.startswith(province) or county[2:] == "0000":
        raise PermissionDenied(f"省级管理员只能上线本省（{province}）的县（区）", field="county")
    return province


def check_uploads(uploads: dict[str, Upload]) -> None:
    """Each file given and not empty, all together within the size the platform takes."""
    for kind in FILES:
        upload = uploads.get(kind)
        if upload is None or not upload.content:
            raise InvalidArgument(kind, f"缺少{FILE_LABELS[kind]}")
        if not upload.filename or len(upload.filename) > 200 or "/" in upload.filename or "\x00" in upload.filename:
            raise InvalidArgument(kind, f"{FILE_LABELS[kind]}的文件名无效")
    total = sum(len(u.content) for u in uploads.values())
    if total > MAX_UPLOAD_BYTES:
        raise InvalidArgument("villages", f"上传文件合计 {total / 1048576:.1f} MB，超过"
                                          f" {MAX_UPLOAD_BYTES // 1048576} MB：村级区划文件请只传本县（区）或本省的")
