"""python -m infra.lint_proto — the proto style every package follows (`make lint`).

`buf lint` cannot be installed here, so the rules that matter to this platform are checked on the
descriptors protoc itself builds (no parsing of our own):

- every file's package is versioned: `sanji.<service>.v<N>` (or `sanji.common.v<N>`), and lives in
  proto/sanji/<service>/v<N>/;
- every enum's zero value is `<ENUM_NAME>_UNSPECIFIED` and every value carries the enum's prefix, so
  a value read from an old or empty message is never mistaken for a real one;
- a field that holds a status (`status`, `*_status`) is an enum, never a free string.
"""

from __future__ import annotations

import pathlib
import re
import sys
import tempfile

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
PACKAGE = re.compile(r"^sanji\.([a-z][a-z0-9_]*)\.v([1-9][0-9]*)$")


def upper_snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


def descriptors() -> list[descriptor_pb2.FileDescriptorProto]:
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "set.pb"
        rc = protoc.main(["grpc_tools.protoc", f"-I{PROTO}", f"-I{well_known}", f"--descriptor_set_out={out}",
                          *files])
        if rc != 0:
            raise SystemExit(f"protoc failed ({rc})")
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return list(fds.file)


def _enums(file: descriptor_pb2.FileDescriptorProto):
    def walk(messages, prefix):
        for m in messages:
            for e in m.enum_type:
                yield f"{prefix}{m.name}.{e.name}", e
            yield from walk(m.nested_type, f"{prefix}{m.name}.")
    for e in file.enum_type:
        yield e.name, e
    yield from walk(file.message_type, "")


def _fields(file: descriptor_pb2.FileDescriptorProto):
    def walk(messages, prefix):
        for m in messages:
            for f in m.field:
                yield f"{prefix}{m.name}.{f.name}", f
            yield from walk(m.nested_type, f"{prefix}{m.name}.")
    yield from walk(file.message_type, "")


def problems(files: list[descriptor_pb2.FileDescriptorProto]) -> list[str]:
    out: list[str] = []
    for file in files:
        where = file.name
        match = PACKAGE.match(file.package)
        if not match:
            out.append(f"{where}: package {file.package!r} is not sanji.<service>.v<N>")
        elif not where.startswith(f"sanji/{match.group(1)}/v{match.group(2)}/"):
            out.append(f"{where}: package {file.package} lives outside sanji/{match.group(1)}/v{match.group(2)}/")
        for name, enum in _enums(file):
            prefix = upper_snake(enum.name)
            zero = [v for v in enum.value if v.number == 0]
            if not zero or zero[0].name != f"{prefix}_UNSPECIFIED":
                out.append(f"{where}: enum {name}: the zero value must be {prefix}_UNSPECIFIED")
            for v in enum.value:
                if not v.name.startswith(prefix + "_"):
                    out.append(f"{where}: enum {name}: value {v.name} lacks the prefix {prefix}_")
        for name, field in _fields(file):
            if (field.name == "status" or field.name.endswith("_status")) and \
                    field.type != descriptor_pb2.FieldDescriptorProto.TYPE_ENUM:
                out.append(f"{where}: field {name} holds a status but is not an enum")
    return out


def main() -> int:
    found = problems(descriptors())
    for line in found:
        print(line)
    print(f"[lint_proto] {len(found)} problem(s)" if found else "[lint_proto] proto style: ok")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
