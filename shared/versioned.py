"""Versioned entries of a published list: the one lifecycle of the catalogue's items (事项) and of the fee
catalogue's fee items (收费项目). Plain Python, no I/O.

An entry's versions move draft → published → (adjusted: a new published version supersedes it) / cancelled.
Only a draft is changed in place; a published entry changes by a new version with a reason, so whatever was
decided under a version can still name it; a draft or a published entry can be cancelled, with a reason.
`versions[-1]` is the current version.

What differs between kinds of entry is said by the kind itself (a subclass): the noun people read in the
errors (`noun`), how a reason is checked (`checked_reason`), what may not change from one version to the
next (`check_same_entry`), and, for publishing, what a complete draft holds (`publish(check=…)`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Generic, Self, TypeVar

from shared.errors import FailedPrecondition
from shared.tenancy import DivisionCode

T = TypeVar("T")


class VersionStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"       # a later published version took its place (调整)
    CANCELLED = "cancelled"


STATUS_LABELS = {VersionStatus.DRAFT: "草稿", VersionStatus.PUBLISHED: "已发布",
                 VersionStatus.SUPERSEDED: "已被新版本替代", VersionStatus.CANCELLED: "已取消"}


@dataclass
class Version(Generic[T]):
    """One version of an entry: its number (from 1), status, content and the reason it was made or cancelled."""

    version: int
    status: VersionStatus
    content: T
    change_reason: str = ""


@dataclass
class Versioned(Generic[T]):
    """An entry of a tenant's list and its versions. A kind of entry subclasses it, naming itself (`noun`) and
    its versions (`version_type`, a subclass of Version that names the content for its readers)."""

    id: str
    tenant: DivisionCode
    versions: list[Version[T]] = field(default_factory=list)
    stored: int = 0     # how many of `versions` are stored already (the repository that read it says)

    noun: ClassVar[str] = "条目"
    version_type: ClassVar[type[Version]] = Version

    @property
    def current(self) -> Version[T]:
        return self.versions[-1]

    @property
    def status(self) -> VersionStatus:
        return self.current.status

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def stored_versions(self) -> list[Version[T]]:
        return self.versions[:self.stored]

    @property
    def new_versions(self) -> list[Version[T]]:
        """The versions made since the entry was read: all of a new entry's, an adjustment's new one."""
        return self.versions[self.stored:]

    def all_stored(self) -> None:
        """The repository has written every version."""
        self.stored = len(self.versions)

    @classmethod
    def create(cls, entry_id: str, tenant: DivisionCode, content: T) -> Self:
        """A new entry: its first version, a draft."""
        return cls(entry_id, tenant, [cls.version_type(1, VersionStatus.DRAFT, content)])

    # -- what a kind of entry says for itself ------------------------------------------------------
    def checked_reason(self, reason: str, action: str) -> str:
        """The reason given for `action` (调整 / 取消), as it is kept; InvalidArgument when it will not do."""
        raise NotImplementedError

    def check_same_entry(self, content: T) -> None:
        """Refuse content that would make this another entry (its code changed): InvalidArgument."""

    # -- the transitions ---------------------------------------------------------------------------
    def update_draft(self, content: T) -> Version[T]:
        if self.status != VersionStatus.DRAFT:
            raise FailedPrecondition(f"只有草稿可以直接修改；已发布的{self.noun}请走“调整”流程并说明理由")
        self.check_same_entry(content)
        self.current.content = content
        return self.current

    def publish(self, check: Callable[[T], None] | None = None) -> Version[T]:
        """The draft becomes the published version; `check` refuses a draft that is not complete yet."""
        if self.status != VersionStatus.DRAFT:
            raise FailedPrecondition(f"{self.noun}当前状态为“{self.status_label}”，不能发布")
        if check is not None:
            check(self.current.content)
        self.current.status = VersionStatus.PUBLISHED
        return self.current

    def adjust(self, content: T, reason: str) -> tuple[Version[T], Version[T]]:
        """A published entry changes by a new published version; the old one is superseded.
        (previous, new)."""
        if self.status != VersionStatus.PUBLISHED:
            raise FailedPrecondition(f"只有已发布的{self.noun}可以调整（当前：{self.status_label}）")
        reason = self.checked_reason(reason, "调整")
        self.check_same_entry(content)
        previous = self.current
        previous.status = VersionStatus.SUPERSEDED
        new = self.version_type(previous.version + 1, VersionStatus.PUBLISHED, content, reason)
        self.versions.append(new)
        return previous, new

    def cancel(self, reason: str) -> tuple[Version[T], bool]:
        """(the cancelled version, whether it was published): cancelling a published entry withdraws it from
        the public, which its readers hear of; a draft's cancellation concerns no one else."""
        if self.status not in (VersionStatus.PUBLISHED, VersionStatus.DRAFT):
            raise FailedPrecondition(f"{self.noun}当前状态为“{self.status_label}”，不能取消")
        reason = self.checked_reason(reason, "取消")
        withdrawn = self.status == VersionStatus.PUBLISHED
        self.current.change_reason = reason
        self.current.status = VersionStatus.CANCELLED
        return self.current, withdrawn
