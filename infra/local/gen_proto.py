"""Generate the Python protobuf and gRPC code from proto/ into gen/ (`make proto`).

The only place generated code comes from; gen/ is not committed and never edited by hand.
"""

from __future__ import annotations

import pathlib
import shutil
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTO = ROOT / "proto"
GEN = ROOT / "gen"


def main() -> int:
    if GEN.exists():
        shutil.rmtree(GEN)
    GEN.mkdir()
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    well_known = pathlib.Path(protoc.__file__).parent / "_proto"
    rc = protoc.main(
        ["grpc_tools.protoc", f"-I{PROTO}", f"-I{well_known}", f"--python_out={GEN}",
         f"--pyi_out={GEN}", f"--grpc_python_out={GEN}", *files]
    )
    if rc != 0:
        return rc
    # namespace packages are enough for imports, but explicit __init__ keeps tools happy
    for d in [GEN / "sanji", *(p for p in (GEN / "sanji").rglob("*") if p.is_dir())]:
        (d / "__init__.py").touch()
    print(f"generated {len(files)} proto files into {GEN.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
