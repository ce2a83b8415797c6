"""The one service shape (services/README.md), checked over the source so that it stays the one shape.

- a domain module imports no I/O library and no generated protobuf code;
- handlers import neither generated code nor their service's translate module;
- no service imports another service;
- no import circles among the project's own modules;
- every service in the registry has its folder, its settings port and its subscription table.

The source is read with `ast`, not imported: a rule broken in a module nothing imports is still found.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
from collections.abc import Iterator

import pytest

from shared import registry
from shared.messaging.subscriptions import check_table

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "services", "gateway", "infra")

# what a rule may not touch: I/O, the network, the database, the broker, generated code
IO_MODULES = ("sqlalchemy", "psycopg", "pika", "grpc", "grpc_health", "grpc_reflection", "httpx", "requests",
              "urllib.request", "socket", "subprocess", "fastapi", "starlette", "opentelemetry", "google.protobuf",
              "sanji", "keycloak", "reportlab", "jinja2", "shared.db", "shared.messaging", "shared.grpc",
              "shared.runner", "shared.calendar_store", "shared.telemetry", "shared.pdf")
GENERATED = ("sanji", "google.protobuf")


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def source_files() -> Iterator[pathlib.Path]:
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in path.parts and "versions" in path.parts:
                continue
            yield path


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: pathlib.Path) -> list[tuple[str, int]]:
    """Every module the file imports (at any depth, except under `if TYPE_CHECKING:`), with its line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            found.append((mod, node.lineno))
            # `from pkg import module` imports that module too
            found.extend((f"{mod}.{alias.name}", node.lineno) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


FILES = list(source_files())
MODULES = {module_name(p): p for p in FILES}


def _service_files(kind: str) -> list[pathlib.Path]:
    return [p for p in FILES if p.parts[-3:-2] == ("services",) or
            (len(p.relative_to(ROOT).parts) == 3 and p.relative_to(ROOT).parts[0] == "services")
            if p.name == kind]


def _violations(paths: list[pathlib.Path], forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in paths:
        for name, line in imports_of(path):
            if _under(name, forbidden):
                out.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return sorted(set(out))


# every registered service's folder: services/<name>/, or its own package (the registry's `package`)
FOLDERS = frozenset(ROOT / s.folder for s in registry.SERVICES)


def _in_a_service(p: pathlib.Path) -> bool:
    return p.relative_to(ROOT).parts[0] == "services" or p.parent in FOLDERS


def test_domain_modules_import_no_io_and_no_generated_code():
    domains = [p for p in FILES if _in_a_service(p) and p.name == "domain.py"]
    assert len(domains) >= len(registry.SERVICES)
    assert _violations(domains, IO_MODULES) == []


def test_handlers_import_neither_generated_code_nor_translate():
    handlers = [p for p in FILES if _in_a_service(p) and p.name == "handlers.py"]
    assert len(handlers) >= len(registry.SERVICES)
    translate = tuple(f"{s.module}.translate" for s in registry.SERVICES)
    assert _violations(handlers, GENERATED + translate) == []


def test_no_service_imports_another():
    out = []
    for path in FILES:
        parts = path.relative_to(ROOT).parts
        if any(path.is_relative_to(ROOT / s.folder) for s in registry.SERVICES if s.package) and "tests" not in parts:
            # a service outside services/ (the docking gateway) imports none of services/ either
            out += [f"{path.relative_to(ROOT)}:{line} imports {name}" for name, line in imports_of(path)
                    if name.split(".")[0] == "services" and len(name.split(".")) > 1]
            continue
        if parts[0] != "services" or len(parts) < 3 or "tests" in parts:
            continue        # an integration test may start a neighbour in-process, as the platform would
        own = parts[1]
        for name, line in imports_of(path):
            bits = name.split(".")
            if bits[0] == "services" and len(bits) > 1 and bits[1] not in (own, "") and not bits[1].startswith("_"):
                if (ROOT / "services" / bits[1]).is_dir():
                    out.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert sorted(set(out)) == []


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        if "tests" in name.split("."):
            continue
        edges = set()
        for imported, _ in imports_of(path):
            # the deepest project module the import names
            bits = imported.split(".")
            while bits and ".".join(bits) not in MODULES:
                bits.pop()
            target = ".".join(bits)
            if target and target != name and "tests" not in bits:
                edges.add(target)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_circles():
    # a package's __init__ re-exporting its own modules is not a circle of design
    graph = {m: {t for t in edges if not (m.startswith(t + ".") and MODULES[t].name == "__init__.py")}
             for m, edges in _graph().items()}
    assert _cycles(graph) == []


def test_the_circle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_reader_sees_relative_nested_and_from_imports(tmp_path):
    pkg = ROOT / "services" / "intake" / "handlers.py"
    names = {n for n, _ in imports_of(pkg)}
    assert "services.intake.domain" in names or "services.intake" in names
    assert _under("sanji.intake.v1.events_pb2", GENERATED) and not _under("sanjix", GENERATED)


@pytest.mark.parametrize("spec", registry.SERVICES, ids=lambda s: s.name)
def test_every_registered_service_has_the_template_files(spec):
    folder = ROOT / spec.folder
    for name in ("__main__.py", "settings.py", "service.py", "translate.py", "handlers.py", "repository.py",
                 "domain.py"):
        assert (folder / name).is_file(), f"{spec.folder}/{name}"
    assert (folder / "migrations" / "env.py").is_file()


@pytest.mark.parametrize("spec", registry.SERVICES, ids=lambda s: s.name)
def test_every_registered_service_listens_where_the_registry_says_and_consumes_what_it_lists(spec):
    settings_module = importlib.import_module(f"{spec.module}.settings")
    classes = [c for c in vars(settings_module).values()
               if isinstance(c, type) and "grpc_port" in getattr(c, "model_fields", {}) and c.__module__ ==
               settings_module.__name__]
    assert len(classes) == 1, f"{spec.folder}/settings.py: one settings class"
    assert classes[0].model_fields["grpc_port"].default == spec.port
    for called in spec.calls:
        assert classes[0].model_fields[f"{called}_target"].default == registry.spec(called).local_target
    service = importlib.import_module(f"{spec.module}.service")
    table = getattr(service, "SUBSCRIPTIONS", ())
    check_table(spec.name, table)
