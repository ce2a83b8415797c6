"""The gateway's one mapping from errors to HTTP: 401, 403, 404, 409, 422 (naming the field), 503, 500.

Messages are for people (Chinese); no stack trace ever leaves the process.
"""

from __future__ import annotations

import logging

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway.tracing import current_trace_id
from shared import errors
from shared.grpc.server import CODE_KEY, FIELD_KEY

log = logging.getLogger("sanji.gateway")

HTTP_OF_GRPC = {
    grpc.StatusCode.INVALID_ARGUMENT: 422, grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409, grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
HTTP_OF_DOMAIN = {errors.InvalidArgument: 422, errors.NotFound: 404, errors.PermissionDenied: 403,
                  errors.Unauthenticated: 401, errors.FailedPrecondition: 409, errors.AlreadyExists: 409,
                  errors.Unavailable: 503}
UNAVAILABLE = "服务暂时不可用，请稍后重试"
INTERNAL = "服务内部错误，请稍后重试；如持续出现请联系管理员"

_TYPE_MESSAGES = {
    "missing": "必填项缺失", "int_parsing": "应为整数", "int_type": "应为整数",
    "bool_parsing": "应为是/否（true/false）", "string_type": "应为文本", "list_type": "应为列表",
    "dict_type": "应为对象", "json_invalid": "请求体不是有效的 JSON",
    "extra_forbidden": "不认识的字段", "greater_than_equal": "数值过小", "less_than_equal": "数值过大",
    "string_too_long": "文本过长", "string_too_short": "文本过短", "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内", "model_attributes_type": "应为对象",
}


def body(code: str, message: str, field: str | None = None, status: int = 400) -> JSONResponse:
    content = {"error": code, "message": message}
    if field:
        content["field"] = field
    trace_id = current_trace_id()
    if trace_id:        # what support staff ask for to find the request's trace (issue 23, item 5)
        content["trace_id"] = trace_id
    return JSONResponse(status_code=status, content=content)


def from_rpc_error(exc: grpc.RpcError) -> JSONResponse:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    trailing = dict(exc.trailing_metadata() or ()) if hasattr(exc, "trailing_metadata") else {}
    status = HTTP_OF_GRPC.get(code, 500)
    if status == 500:
        log.error("backend call failed: %s %s", code, exc.details() if hasattr(exc, "details") else "")
        return body("internal", INTERNAL, status=500)
    if status == 503:
        return body("unavailable", UNAVAILABLE, status=503)
    return body(trailing.get(CODE_KEY, code.name.lower()), exc.details() or "", trailing.get(FIELD_KEY), status)


def install(app: FastAPI) -> None:
    @app.exception_handler(grpc.RpcError)
    async def rpc_error(request: Request, exc: grpc.RpcError):
        return from_rpc_error(exc)

    @app.exception_handler(errors.DomainError)
    async def domain_error(request: Request, exc: errors.DomainError):
        status = next((s for cls, s in HTTP_OF_DOMAIN.items() if isinstance(exc, cls)), 400)
        return body(exc.code, exc.message, exc.field, status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or "body"
        message = _TYPE_MESSAGES.get(first.get("type", ""), "输入不正确")
        return body("invalid_argument", f"{field}：{message}", field, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        messages = {404: "页面或资源不存在", 405: "不支持的请求方法", 401: "未登录或登录已失效，请重新登录"}
        detail = exc.detail if isinstance(exc.detail, str) and not exc.detail.isascii() else None
        return body("http_error", detail or messages.get(exc.status_code, "请求无法处理"), status=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return body("internal", INTERNAL, status=500)
