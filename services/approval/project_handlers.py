"""Whole-project limits' use cases (全流程审批时限, issue 21 item 8): create a project, add the unit's cases to it,
suspend and resume its own clock with a reason, read it with its due date and what holds it up. Each owns its
unit of work; the rules are in `projects.py`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.approval.categories import SharedState
from services.approval.domain import STAFF_ROLES
from services.approval.projects import Hold, Project
from services.approval.repository import ProjectRepository
from shared.errors import InvalidArgument, NotFound
from shared.tenancy import Principal, Role
from shared.validation import uuid_field

MANAGERS = (Role.HEAD, Role.CHIEF_REPRESENTATIVE, Role.TENANT_ADMIN)
NOT_FOUND = "项目不存在或无权查看"


@dataclass
class ProjectView:
    project: Project
    due: dt.date | None
    provisional: bool
    late: bool
    holding_up: list[Hold]


class ProjectHandlers(SharedState):
    def _view(self, p: Project) -> ProjectView:
        cal = self.calendars.get(p.tenant)
        today = self.clock.today()
        due, provisional = p.due(cal)
        return ProjectView(p, due, provisional, p.late(cal, today), p.holding_up(cal, today))

    def _load(self, repo: ProjectRepository, project_id: str, *, lock: bool = False) -> Project:
        found = repo.load(uuid_field(project_id, "project_id", "项目标识"), lock=lock)
        if found is None:
            raise NotFound(NOT_FOUND)
        return found

    def create(self, p: Principal, name: str, kind: str, limit_days: int, started_on: str) -> ProjectView:
        p.require(*MANAGERS)
        try:
            start = dt.date.fromisoformat(started_on.strip()) if (started_on or "").strip() else self.clock.today()
        except ValueError:
            raise InvalidArgument("started_on", "项目起算日期格式应为 YYYY-MM-DD") from None
        project = Project.create(tenant=str(p.tenant), name=name, kind=kind, limit_days=limit_days,
                                 started_on=start, by=p.username)
        with self.db.unit_of_work(p, subtree=False) as uow:
            ProjectRepository(uow).add(project, self.clock.now())
            uow.commit()
        return self._view(project)

    def add_case(self, p: Principal, project_id: str, case_number: str) -> ProjectView:
        p.require(*MANAGERS)
        number = (case_number or "").strip()
        if not number:
            raise InvalidArgument("case_number", "请填写办件编号")
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ProjectRepository(uow)
            project = self._load(repo, project_id, lock=True)
            case = repo.case_for_project(number)
            if case is None:
                raise NotFound("本单位没有该办件", field="case_number")
            project.add_case(case)
            repo.add_case(project, case, p.username, self.clock.now())
            uow.commit()
        return self._view(project)

    def suspend(self, p: Principal, project_id: str, reason: str) -> ProjectView:
        p.require(*MANAGERS)
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ProjectRepository(uow)
            project = self._load(repo, project_id, lock=True)
            project.suspend(reason, by=p.username, today=self.clock.today())
            repo.save_pauses(project)
            uow.commit()
        return self._view(project)

    def resume(self, p: Principal, project_id: str) -> ProjectView:
        p.require(*MANAGERS)
        with self.db.unit_of_work(p, subtree=False) as uow:
            repo = ProjectRepository(uow)
            project = self._load(repo, project_id, lock=True)
            project.resume(by=p.username, today=self.clock.today())
            repo.save_pauses(project)
            uow.commit()
        return self._view(project)

    def get(self, p: Principal, project_id: str) -> ProjectView:
        p.require(*STAFF_ROLES)
        with self.db.unit_of_work(p) as uow:
            return self._view(self._load(ProjectRepository(uow), project_id))
