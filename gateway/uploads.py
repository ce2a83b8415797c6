"""Posted forms: urlencoded (the pages' Form) and multipart with one file (the pages and the REST routes alike),
bounded before they are parsed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi import Request

from shared.errors import InvalidArgument


class Form:
    """A posted urlencoded form: first values and all values of a name."""

    def __init__(self, data: dict[str, list[str]]):
        self.data = data

    def get(self, name: str, default: str = "") -> str:
        return (self.data.get(name) or [default])[0].strip()

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.data.get(name, []) if v.strip()]

    def names(self, prefix: str) -> Iterable[str]:
        return [n for n in self.data if n.startswith(prefix)]


# An upload form (multipart): the file and the confirmation step carrying it again. Bounded as a whole before it
# is parsed; the services bound what they take again. A default: a county's item list in base64 with room to spare.
UPLOAD_MAX_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A posted multipart form: its text fields (Form) and its one file (name, bytes; empty when none)."""

    form: Form
    filename: str
    content: bytes


async def read_multipart(request: Request, limit: int = UPLOAD_MAX_BYTES) -> Upload:
    """A multipart form read up to `limit` bytes (more is refused before parsing, naming the file): its text
    fields and its one file."""
    too_large = InvalidArgument("file", f"上传内容过大：最大 {limit // (1024 * 1024)} MB（请分批导入）")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    request._body = bytes(body)     # starlette parses the form from the body it has read (Request.stream)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidArgument("file", "请以文件上传表单（multipart/form-data）提交")
    data = await request.form(max_files=1, max_fields=20, max_part_size=limit)
    fields: dict[str, list[str]] = {}
    filename, content = "", b""
    for name, value in data.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, []).append(value)
        else:
            filename, content = value.filename or "", await value.read()
    return Upload(Form(fields), filename, content)
