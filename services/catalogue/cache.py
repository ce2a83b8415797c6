"""Read-through cache of published item versions for the hot read path (GetItem, GetPublicItem).

What is cached is public information only: the content of non-draft versions, which never changes
once published (an adjustment makes a new version). What does change — which version is current and
its status — is held for `current_ttl` seconds and dropped at once when this process changes the
item; other replicas see a change within `current_ttl`. Drafts are never cached. Every hit is still
checked against the caller's visibility by the handler (the same rule the RLS policies enforce).

SearchItems takes only the content of the versions its own statement found (`published`): which items a unit
finds, and how each is listed for it, always come from the database under the caller's binding.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from services.catalogue.domain import ItemRow, Status

# what a published version still says once superseded (an adjustment changes only its status); not a cancelled one
_AS_PUBLISHED = (str(Status.PUBLISHED), str(Status.SUPERSEDED))


@dataclass(frozen=True)
class _Current:
    version: int
    status: str
    expires: float


class VersionCache:
    def __init__(self, max_versions: int = 20000, current_ttl: float = 2.0):
        self._versions: OrderedDict[tuple[str, int], ItemRow] = OrderedDict()
        self._current: dict[str, _Current] = {}
        self._max = max_versions
        self._ttl = current_ttl
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def lookup(self, item_id: str, version: int = 0) -> ItemRow | None:
        """The version (the current one when 0) with its status as of now, or None on a miss."""
        now = time.monotonic()
        with self._lock:
            cur = self._current.get(item_id)
            if cur is None or cur.expires < now:
                self.misses += 1
                return None
            v = version or cur.version
            row = self._versions.get((item_id, v))
            if row is None:
                self.misses += 1
                return None
            self._versions.move_to_end((item_id, v))
            self.hits += 1
        status = cur.status if v == cur.version else str(Status.SUPERSEDED)
        return row if row.status == status else replace(row, status=status)

    def store(self, row: ItemRow, current_version: int, current_status: str) -> None:
        if row.status == Status.DRAFT or current_status == Status.DRAFT:
            return
        with self._lock:
            self._current[row.id] = _Current(current_version, current_status, time.monotonic() + self._ttl)
            self._versions[(row.id, row.version)] = row
            self._versions.move_to_end((row.id, row.version))
            while len(self._versions) > self._max:
                old_id, _ = self._versions.popitem(last=False)[0]
                self._current.pop(old_id, None)

    def published(self, item_id: str, version: int) -> ItemRow | None:
        """The version's content as published, for a caller whose own statement (under its tenant binding) has just
        found this version to be its item's current published one (SearchItems); None on a miss. A cancelled
        version is never served: its cancellation gave it a reason of its own."""
        return self.published_many([(item_id, version)])[0]

    def published_many(self, keys: list[tuple[str, int]]) -> list[ItemRow | None]:
        """`published` for each (item id, version) of a search's page, under one acquisition of the lock."""
        out: list[ItemRow | None] = []
        with self._lock:
            versions = self._versions
            for key in keys:
                row = versions.get(key)
                if row is None or row.status not in _AS_PUBLISHED:
                    self.misses += 1
                    out.append(None)
                    continue
                versions.move_to_end(key)
                self.hits += 1
                out.append(row if row.status == Status.PUBLISHED else replace(row, status=str(Status.PUBLISHED)))
        return out

    def keep_published(self, row: ItemRow) -> None:
        """A published version read for a search: its content only (which version is current is not learnt here).
        An entry already held stays: it is the same content, or the version's cancellation read since."""
        if row.status != Status.PUBLISHED:
            return
        with self._lock:
            self._versions.setdefault((row.id, row.version), row)
            self._versions.move_to_end((row.id, row.version))
            while len(self._versions) > self._max:
                old_id, _ = self._versions.popitem(last=False)[0]
                self._current.pop(old_id, None)

    def invalidate(self, item_id: str) -> None:
        with self._lock:
            self._current.pop(item_id, None)
