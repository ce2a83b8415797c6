"""Read-through cache of published item versions for the hot read path (GetItem, GetPublicItem).

What is cached is public information only: the content of non-draft versions, which never changes
once published (an adjustment makes a new version). What does change — which version is current and
its status — is held for `current_ttl` seconds and dropped at once when this process changes the
item; other replicas see a change within `current_ttl`. Drafts are never cached. Every hit is still
checked against the caller's visibility by the handler (the same rule the RLS policies enforce).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

from services.catalogue.repository import ItemRow
from services.catalogue.translate import LISTING, STATUS


@dataclass(frozen=True)
class _Current:
    version: int
    status: str
    expires: float


class VersionCache:
    def __init__(self, max_versions: int = 20000, current_ttl: float = 2.0):
        self._versions: OrderedDict[tuple[str, int], tuple[ItemRow, object]] = OrderedDict()
        self._current: dict[str, _Current] = {}
        self._max = max_versions
        self._ttl = current_ttl
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def lookup(self, item_id: str, version: int = 0) -> tuple[ItemRow, object] | None:
        """(row, translated message) with the status as of now, or None on a miss."""
        now = time.monotonic()
        with self._lock:
            cur = self._current.get(item_id)
            if cur is None or cur.expires < now:
                self.misses += 1
                return None
            v = version or cur.version
            hit = self._versions.get((item_id, v))
            if hit is None:
                self.misses += 1
                return None
            self._versions.move_to_end((item_id, v))
            self.hits += 1
        row, message = hit
        status = cur.status if v == cur.version else "superseded"
        if row.status == status:
            return row, message
        return replace(row, status=status), self._with_status(message, status)

    @staticmethod
    def _with_status(message, status: str):
        copy = type(message)()
        copy.CopyFrom(message)
        copy.status = STATUS[status]
        return copy

    def store(self, row: ItemRow, current_version: int, current_status: str, message: object) -> None:
        if row.status == "draft" or current_status == "draft":
            return
        with self._lock:
            self._current[row.id] = _Current(current_version, current_status, time.monotonic() + self._ttl)
            self._versions[(row.id, row.version)] = (row, message)
            self._versions.move_to_end((row.id, row.version))
            while len(self._versions) > self._max:
                old_id, _ = self._versions.popitem(last=False)[0]
                self._current.pop(old_id, None)

    def message_for(self, row: ItemRow, translate) -> object:
        """The translated message of a listed row: from the cache when its version was seen (the
        content of a non-draft version never changes), patched with the row's status and listing."""
        hit = None
        if row.status != "draft":
            with self._lock:
                hit = self._versions.get((row.id, row.version))
        if hit is None:
            message = translate(row)
            if row.status != "draft":
                with self._lock:
                    self._versions[(row.id, row.version)] = (row, message)
                    while len(self._versions) > self._max:
                        old_id, _ = self._versions.popitem(last=False)[0]
                        self._current.pop(old_id, None)
            return message
        message = hit[1]
        listing = LISTING.get(row.listing, 0)
        if message.status == STATUS[row.status] and message.listing == listing:
            return message
        copy = type(message)()
        copy.CopyFrom(message)
        copy.status = STATUS[row.status]
        copy.listing = listing
        return copy

    def invalidate(self, item_id: str) -> None:
        with self._lock:
            self._current.pop(item_id, None)
