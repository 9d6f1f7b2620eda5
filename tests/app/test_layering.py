"""The server's rooms and the one direction of their dependencies (README, Layout).

Every import of every module under server/ — at the top or inside a function — is read with
`ast` and mapped to the package it lands in. A domain may import only the domains below it;
`server/pdf` and the shared modules import no domain; and no two domain packages import each
other, directly or around a cycle.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SERVER = Path(__file__).resolve().parents[2] / "server"

# From the bottom up: each domain may import those before it, never those after.
DOMAINS = ("audit", "registry", "accounts", "jobs", "draws", "field", "enforcement", "oversight", "publicity", "demo",
           "backup")
# What every domain may use and that itself imports no domain.
SHARED = ("access", "api", "cli", "columns", "config", "errors", "extensions", "observability", "pagination", "pdf",
          "races", "roles", "web")
# The composition roots: they register every domain's blueprints and commands.
ROOTS = ("server", "server.api", "server.cli", "server.web")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SERVER.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """The server modules `path` imports (absolute names; a name imported from a package counts as
    the submodule when one of that name exists)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] + ([node.module] if node.module else [])
                module = ".".join(base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names
                         if (SERVER.parent / Path(*f"{module}.{alias.name}".split("."))).with_suffix(".py").exists()
                         or (SERVER.parent / Path(*f"{module}.{alias.name}".split("."))).is_dir())
    return {module for module in found if module == "server" or module.startswith("server.")}


def room(module: str) -> str | None:
    """The domain or shared room a server module belongs to (None for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): imported_modules(path) for path in sorted(SERVER.rglob("*.py"))}


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Each import that goes the wrong way, as 'importer -> imported (why)'."""
    found = []
    for importer, imports in sorted(graph.items()):
        if importer in ROOTS:
            continue
        source = room(importer)
        for imported in sorted(imports):
            target = room(imported)
            if target is None or target == source or target not in DOMAINS:
                continue
            if source in SHARED:
                found.append(f"{importer} -> {imported} (server/{source} imports no domain)")
            elif DOMAINS.index(target) > DOMAINS.index(source):
                found.append(f"{importer} -> {imported} ({source} sits below {target})")
    return found


def domain_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles between domain packages (strongly connected groups of more than one domain)."""
    edges: dict[str, set[str]] = defaultdict(set)
    for importer, imports in graph.items():
        source = room(importer)
        if source not in DOMAINS:
            continue
        edges[source].update(room(imported) for imported in imports
                             if room(imported) in DOMAINS and room(imported) != source)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(edges[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for domain in DOMAINS:
        if domain not in index:
            visit(domain)
    return cycles


def test_every_room_is_known():
    rooms = {path.name if path.is_dir() else path.stem for path in SERVER.iterdir()
             if not path.name.startswith(("_", ".")) and (path.is_dir() or path.suffix == ".py")}
    rooms.discard("reference")  # the document's data files, not code
    assert rooms == set(DOMAINS) | set(SHARED)


def test_dependencies_point_one_way():
    assert violations(import_graph()) == []


def test_no_cycle_between_domain_packages():
    assert domain_cycles(import_graph()) == []


@pytest.mark.parametrize(("importer", "imported", "reason"), [
    ("server.pdf.fetcher", "server.field.evidence_store", "server/pdf imports no domain"),
    ("server.access", "server.accounts.models.user", "server/access imports no domain"),
    ("server.registry.loader", "server.draws.models.draw", "registry sits below draws"),
])
def test_a_wrong_way_import_is_caught(importer, imported, reason):
    graph = import_graph()
    graph[importer] = graph[importer] | {imported}
    assert f"{importer} -> {imported} ({reason})" in violations(graph)


def test_a_cycle_between_domains_is_caught():
    graph = import_graph()
    graph["server.audit.chain"] = graph["server.audit.chain"] | {"server.publicity.bulletins"}
    assert ["audit", "publicity"] in [sorted(set(cycle) & {"audit", "publicity"}) for cycle in domain_cycles(graph)]
