"""The house drawn from the code: which layer may import which (docs/architecture.md).

Read from the source with `ast`, every import counted — at module level, inside
functions and under TYPE_CHECKING alike — so that a use case reaching into the store,
or the domain reaching for a framework, fails here before review.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
# What each part of tenure may import of the rest (itself always). `protocol` is the
# wire vocabulary module, `clock`/`config`/`logs` are single modules.
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "protocol": set(),
    "clock": set(),
    "config": {"domain"},
    "logs": {"config"},
    "crypto": {"domain", "protocol"},
    "geo": {"domain"},
    "i18n": set(),  # message catalogs: what a person reads, in their language
    "services": {"domain", "crypto", "geo", "clock", "protocol", "i18n"},
    "store": {"domain", "services", "clock"},  # services: only its ports (checked below)
    "adapters": {"domain", "services", "crypto", "clock"},
    "bootstrap": {"domain", "crypto", "geo", "clock", "config", "services", "store",
                  "adapters", "protocol"},
    "http": {"domain", "crypto", "geo", "clock", "config", "logs", "services", "store",
             "bootstrap", "protocol", "web", "i18n"},
    # the pages: the same edge as `http` (its request helpers; http/app.py serves both)
    "web": {"domain", "crypto", "clock", "config", "services", "bootstrap", "protocol",
            "http", "i18n"},
    "agent": {"domain", "crypto", "clock", "config", "protocol", "i18n"},
    "cli": {"domain", "crypto", "geo", "clock", "config", "logs", "services", "store",
            "adapters", "bootstrap", "http", "agent", "protocol", "i18n"},
}
# Parts that are one layer: imports between them are no cycle between layers.
ONE_LAYER = {frozenset({"http", "web"})}
FORBIDDEN_IN_DOMAIN = ("sqlalchemy", "starlette", "httpx", "redis", "psycopg", "uvicorn",
                       "structlog", "cryptography", "argon2")


def modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "tenure").rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        if "migrations" in parts:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Absolute names of every module `name` imports."""
    found: set[str] = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "tenure"


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules().items():
        for target in imports(name, path):
            if (target.startswith("tenure.") and target.split(".")[1] in ALLOWED
                    and part(target) != part(name)):
                edges[part(name)].add(part(target))
    return edges


def test_every_part_of_tenure_has_a_place_in_the_house() -> None:
    parts = {part(name) for name in modules()} - {"tenure"}
    assert parts <= set(ALLOWED), f"unknown parts: {parts - set(ALLOWED)}"


def test_no_part_imports_what_sits_above_it() -> None:
    wrong = {src: sorted(dst - ALLOWED[src]) for src, dst in graph().items()
             if dst - ALLOWED.get(src, set())}
    assert not wrong, f"imports against the layering: {wrong}"


def test_no_cycle_between_parts() -> None:
    edges = graph()
    seen: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, trail: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if frozenset({node, nxt}) in ONE_LAYER:
                continue
            assert seen.get(nxt) != 1, f"import cycle: {' -> '.join([*trail, node, nxt])}"
            if nxt not in seen:
                visit(nxt, [*trail, node])
        seen[node] = 2

    for node in sorted(edges):
        if node not in seen:
            visit(node, [])


def test_the_store_and_adapters_see_only_the_ports_of_services() -> None:
    wrong = []
    for name, path in modules().items():
        if part(name) in ("store", "adapters"):
            wrong += [(name, t) for t in imports(name, path)
                      if t.startswith("tenure.services") and not t.startswith(
                          "tenure.services.ports")]
    assert not wrong, wrong


def test_the_domain_is_pure() -> None:
    wrong = []
    for name, path in modules().items():
        if part(name) == "domain":
            wrong += [(name, t) for t in imports(name, path)
                      if t.split(".")[0] in FORBIDDEN_IN_DOMAIN
                      or (t.startswith("tenure.") and not t.startswith("tenure.domain"))]
    assert not wrong, wrong


def test_services_reach_no_database_cache_or_mail_library() -> None:
    wrong = []
    for name, path in modules().items():
        if part(name) == "services":
            wrong += [(name, t) for t in imports(name, path)
                      if t.split(".")[0] in ("sqlalchemy", "redis", "smtplib", "psycopg")]
    assert not wrong, wrong
