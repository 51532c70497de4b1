"""The file root of a run (set by the API) confines every file a step opens in the worker.

``StepContext.resolve_file`` is the one check; these tests drive the real executors with a
root and make sure each refuses a file outside it before opening anything, with the
non-retryable ``FileNotAllowed``, and still opens files inside it. Without a root (``testflow
run``) paths are used as given.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from testflow.activities import pools
from testflow.activities.base import Output, StepContext, StepFailure
from testflow.activities.runner import load_executor
from testflow.dsl.registry import default_registry

pytestmark = pytest.mark.service

REGISTRY = default_registry()


def context(root: Path | None) -> StepContext:
    return StepContext(
        run_id="run-files",
        flow_name="files",
        step_id="s",
        step_key="steps.s",
        variables={},
        step_outputs={},
        connections={},
        deadline=time.monotonic() + 10,
        file_root=str(root) if root is not None else None,
    )


async def step(kind: str, config: dict[str, Any], ctx: StepContext) -> Output:
    """Validate ``config`` as the runner does and run the kind's executor."""
    spec = REGISTRY.get(kind)
    assert spec is not None
    return await load_executor(spec)(spec.parse_config(config), ctx)


async def refused(kind: str, config: dict[str, Any], ctx: StepContext) -> StepFailure:
    with pytest.raises(StepFailure) as caught:
        await step(kind, config, ctx)
    assert caught.value.type == "FileNotAllowed", caught.value.message
    assert caught.value.retryable is False
    assert ctx.file_root is not None and ctx.file_root in caught.value.message
    return caught.value


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """(root, secret): a library with a file and links, and a SQLite file outside it."""
    root = tmp_path / "library"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "inside.txt").write_text("inside")
    secret = tmp_path / "server.db"
    with sqlite3.connect(secret) as conn:
        conn.execute("CREATE TABLE tokens (hash TEXT)")
        conn.execute("INSERT INTO tokens VALUES ('hash-9d2f')")
    conn.close()
    (root / "out.db").symlink_to(secret)
    (root / "alias.txt").symlink_to(root / "sub" / "inside.txt")
    return root, secret


def test_resolve_file(tree: tuple[Path, Path]) -> None:
    root, secret = tree
    ctx = context(root)
    real = root.resolve()
    assert ctx.resolve_file("sub/inside.txt", "x") == str(real / "sub" / "inside.txt")
    assert ctx.resolve_file(str(root / "sub" / "inside.txt"), "x") == str(real / "sub/inside.txt")
    assert ctx.resolve_file("alias.txt", "x") == str(real / "sub" / "inside.txt")  # link inside
    for name in (str(secret), "../server.db", "sub/../../server.db", "out.db", "/etc/passwd"):
        with pytest.raises(StepFailure) as caught:
            ctx.resolve_file(name, "multipart part 'doc'")
        assert caught.value.type == "FileNotAllowed" and not caught.value.retryable
        assert caught.value.message.startswith("multipart part 'doc': ")
        assert caught.value.details == {
            "path": name,
            "root": str(root),
            "purpose": "multipart part 'doc'",
        }
    laptop = context(None)  # testflow run: paths as given, relative to the working directory
    assert laptop.resolve_file("../server.db", "x") == "../server.db"
    assert laptop.resolve_file(str(secret), "x") == str(secret)


def test_resolve_url_files(tree: tuple[Path, Path]) -> None:
    root, _ = tree
    ctx = context(root)
    plain = "postgresql://u:p@db:5432/app?sslmode=require"
    assert ctx.resolve_url_files(plain, "DSN") == plain
    inside = ctx.resolve_url_files(f"{plain}&sslrootcert=sub/inside.txt", "DSN")
    assert "sslmode=require" in inside and "inside.txt" in inside and str(root.name) in inside
    for param in ("sslrootcert", "sslkey", "passfile", "ssl_ca_certs", "cafile", "keyfile"):
        with pytest.raises(StepFailure) as caught:
            ctx.resolve_url_files(f"{plain}&{param}=/etc/ssl/private/key.pem", "DSN")
        assert caught.value.type == "FileNotAllowed"
        assert caught.value.message.startswith(f"DSN {param}: ")
    out = f"{plain}&sslkey=/etc/ssl/private/key.pem"
    assert context(None).resolve_url_files(out, "DSN") == out


async def test_sqlite_database_and_attach_stay_in_the_root(tree: tuple[Path, Path]) -> None:
    root, secret = tree
    ctx = context(root)
    for dsn in (f"sqlite:///{secret}", "sqlite:///../server.db", "sqlite:///out.db"):
        await refused("sqlite.query", {"dsn": dsn, "sql": "SELECT hash FROM tokens"}, ctx)
    # A file: URI is a plain file name under a root (it is opened by its absolute path).
    with pytest.raises(StepFailure) as caught:
        await step("sqlite.query", {"dsn": f"sqlite:///file:{secret}", "sql": "SELECT 1"}, ctx)
    assert caught.value.type != "FileNotAllowed" and "hash-9d2f" not in caught.value.message
    memory = "sqlite:///:memory:"
    attach = "ATTACH DATABASE '{}' AS other"
    for name in (str(secret), "server.db", f"file:{secret}", str(root / "out.db")):
        failure = await refused("sqlite.execute", {"dsn": memory, "sql": attach.format(name)}, ctx)
        assert failure.message.startswith("SQLite ATTACH: ")
    await refused("sqlite.execute", {"dsn": memory, "sql": f"VACUUM INTO '{root}/../x.db'"}, ctx)
    assert not (root.parent / "x.db").exists()
    # Inside the root: a relative DSN starts at the root, ATTACH takes an absolute path in it.
    made = await step(
        "sqlite.execute", {"dsn": "sqlite:///data.db", "sql": "CREATE TABLE t (x)"}, ctx
    )
    assert made.fields["rows_affected"] == 0 and (root / "data.db").is_file()
    await step("sqlite.execute", {"dsn": memory, "sql": attach.format(root / "data.db")}, ctx)
    rows = await step("sqlite.query", {"dsn": memory, "sql": "SELECT 1 AS one"}, ctx)
    assert rows.document == [{"one": 1}]


async def test_a_connection_opened_without_a_root_is_not_shared_with_a_rooted_run(
    tree: tuple[Path, Path],
) -> None:
    root, secret = tree
    dsn = f"sqlite:///{root}/shared.db"
    laptop = await step("sqlite.query", {"dsn": dsn, "sql": "SELECT 1 AS one"}, context(None))
    assert laptop.document == [{"one": 1}]
    sql = f"ATTACH DATABASE '{secret}' AS other"
    await refused("sqlite.execute", {"dsn": dsn, "sql": sql}, context(root))
    await pools.close_all()


async def test_http_multipart_and_tls_files(tree: tuple[Path, Path]) -> None:
    root, secret = tree
    ctx = context(root)
    url = "http://127.0.0.1:9/never-called"  # refused before any connection
    multipart = {"method": "POST", "url": url, "multipart": {"doc": {"path": str(secret)}}}
    failure = await refused("http", {"request": multipart}, ctx)
    assert failure.message.startswith("multipart part 'doc': ")
    for field in ("ca_bundle", "cert", "key"):
        tls = {"url": url, "tls": {field: "../server.db"}}
        if field == "key":
            tls["tls"]["cert"] = "sub/inside.txt"
        failure = await refused("http", {"request": tls}, ctx)
        assert failure.message.startswith(f"tls.{field}: ")


async def test_other_executors_refuse_files_outside(tree: tuple[Path, Path]) -> None:
    root, secret = tree
    ctx = context(root)
    s3 = {"endpoint": "http://127.0.0.1:9", "bucket": "b", "key": "k", "file": str(secret)}
    assert (await refused("s3.put", s3, ctx)).message.startswith("s3.put file: ")
    mock = {"name": "partner", "file": "../server.db"}
    assert (await refused("mock", mock, ctx)).message.startswith("mock file: ")
    pg = "postgresql://postgres@127.0.0.1:5432/test?sslrootcert=/etc/passwd"
    await refused("postgresql.query", {"dsn": pg, "sql": "SELECT 1"}, ctx)
    redis = "redis://127.0.0.1:6379/0?ssl_ca_certs=../server.db"
    await refused("redis.get", {"dsn": redis, "key": "k"}, ctx)
    amqp = "amqp://guest:guest@127.0.0.1:5672/?cafile=/etc/passwd"
    await refused("amqp.publish", {"url": amqp, "routing_key": "q", "value": "x"}, ctx)
    kafka_tls = {"ca_file": str(secret)}
    kafka = {"bootstrap_servers": "127.0.0.1:9", "tls": kafka_tls, "topic": "t", "value": "x"}
    await refused("kafka.produce", kafka, ctx)
    mqtt = {"url": "mqtts://127.0.0.1:8883", "tls": {"ca_file": "/etc/passwd"}, "topic": "t"}
    await refused("mqtt.publish", {**mqtt, "value": "x"}, ctx)
    nats = {"servers": "nats://127.0.0.1:4222", "creds_file": "/etc/passwd", "subject": "s"}
    await refused("nats.publish", {**nats, "value": "x"}, ctx)
