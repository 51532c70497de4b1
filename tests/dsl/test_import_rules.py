"""The import rules of ARCHITECTURE.md section 1, checked statically (AST) and in fresh interpreters.

- ``testflow.dsl`` imports nothing else from testflow and no I/O library.
- ``testflow.workflows`` imports only the standard library, temporalio, pydantic, testflow.dsl
  and the pure libraries dsl builds on; importing it loads none of httpx, asyncpg, aiokafka,
  redis or an OpenTelemetry exporter.
- ``testflow.api`` never imports ``testflow.activities``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "testflow"
IO_LIBRARIES = {
    "httpx", "requests", "aiohttp", "urllib3", "asyncpg", "psycopg", "psycopg2", "asyncmy",
    "aiomysql", "aiosqlite", "sqlite3", "sqlalchemy", "aiokafka", "redis", "aio_pika", "aiormq",
    "aiomqtt", "paho", "nats", "aiobotocore", "botocore", "boto3", "neo4j", "socket", "ssl",
    "subprocess", "http", "smtplib", "ftplib", "opentelemetry", "uvicorn", "fastapi", "starlette",
}  # fmt: skip
"""Top-level modules whose import means network, database or process I/O."""
WORKFLOW_SANDBOX_FORBIDDEN = ["httpx", "asyncpg", "aiokafka", "redis", "opentelemetry.exporter"]
WORKFLOW_ALLOWED_THIRD_PARTY = {
    "temporalio", "pydantic", "pydantic_core", "typing_extensions", "annotated_types", "jinja2",
    "jsonpath", "markupsafe",
}  # fmt: skip


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file, lazy ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the file's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.append((node.lineno, module))
    return out


def _violations(folder: Path, allowed: object) -> list[str]:
    found = []
    for path in _modules(folder):
        for line, module in _imports(path):
            if not allowed(module):  # type: ignore[operator]
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    return found


def _fresh_interpreter(code: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_dsl_imports_nothing_else_from_testflow_and_no_io_library() -> None:
    def allowed(module: str) -> bool:
        top = module.split(".")[0]
        if top == "testflow":
            return module == "testflow" or module.startswith("testflow.dsl")
        return top not in IO_LIBRARIES

    assert _violations(PACKAGE / "dsl", allowed) == []


def test_importing_dsl_loads_no_other_testflow_package_nor_io_library() -> None:
    modules = sorted(
        "testflow." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in _modules(PACKAGE / "dsl")
        if p.name != "__init__.py"
    )
    code = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = _fresh_interpreter(code)
    assert isinstance(loaded, list)
    others = [m for m in loaded if m.startswith("testflow.") and not m.startswith("testflow.dsl")]
    assert others == []
    assert (
        sorted({m.split(".")[0] for m in loaded} & (IO_LIBRARIES - {"socket", "ssl", "http"})) == []
    )


def _workflow_modules() -> list[str]:
    return sorted(
        "testflow." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
        for p in _modules(PACKAGE / "workflows")
        if p.name != "__init__.py"
    )


def test_workflows_import_only_allowed_libraries() -> None:
    if not _workflow_modules():
        pytest.skip("testflow/workflows has no modules yet")
    stdlib = set(sys.stdlib_module_names)

    def allowed(module: str) -> bool:
        top = module.split(".")[0]
        if top == "testflow":
            return module.startswith(("testflow.dsl", "testflow.workflows")) or module == "testflow"
        return top in stdlib or top in WORKFLOW_ALLOWED_THIRD_PARTY or top == "__future__"

    assert _violations(PACKAGE / "workflows", allowed) == []


def test_importing_workflows_loads_no_io_client() -> None:
    modules = _workflow_modules()
    if not modules:
        pytest.skip("testflow/workflows has no modules yet")
    code = (
        "import importlib, json, sys\n"
        "import testflow.workflows\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"print(json.dumps({{name: any(m == name or m.startswith(name + '.') for m in sys.modules)"
        f" for name in {WORKFLOW_SANDBOX_FORBIDDEN!r}}}))"
    )
    loaded = _fresh_interpreter(code)
    assert isinstance(loaded, dict)
    assert [name for name, present in loaded.items() if present] == []


def test_api_never_imports_activities() -> None:
    if not [p for p in _modules(PACKAGE / "api") if p.name != "__init__.py"]:
        pytest.skip("testflow/api has no modules yet")

    def allowed(module: str) -> bool:
        return not module.startswith("testflow.activities")

    assert _violations(PACKAGE / "api", allowed) == []


def test_the_checker_sees_violations(tmp_path: Path) -> None:
    """The AST check itself finds forbidden imports (so the rules above cannot pass vacuously)."""
    probe = tmp_path / "pkg" / "sub" / "mod.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "import httpx\nfrom ..activities import runner\ndef f():\n    import redis.asyncio\n",
        encoding="utf-8",
    )
    assert [m for _, m in _imports(probe, tmp_path)] == ["httpx", "pkg.activities", "redis.asyncio"]
