"""Pooled httpx clients, TLS contexts and per-run cookie jars of the ``http`` executor.

Per-step overhead matters (quick steps run as local activities and a benchmark compares them
with a raw httpx loop), so clients are pooled per worker process, per event loop (a client's
connections belong to one loop) and per TLS configuration, and kept alive between steps.
Cookies are not kept in those shared clients: each run has its own jar (a bounded LRU keyed by
run id) that the executor applies by hand, so a cookie never leaks into another run.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import socket
import ssl
import weakref
from collections import OrderedDict
from http.cookiejar import CookieJar
from typing import Any

import httpx

from testflow.activities.base import StepContext, StepFailure
from testflow.dsl.kinds.http import TlsOptions

MAX_RUN_JARS = 256
"""Cookie jars kept per worker; the least recently used run's jar goes first."""
_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=30)

TlsKey = tuple[bool, str | None, str | None, str | None]
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[TlsKey, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)
_jars: OrderedDict[str, httpx.Cookies] = OrderedDict()


def client_for(tls: TlsOptions | None) -> httpx.AsyncClient:
    """The pooled client of this event loop for a TLS configuration, created on first use."""
    key: TlsKey = (True, None, None, None)
    if tls is not None:
        key = (tls.verify, tls.ca_bundle, tls.cert, tls.key)
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    client = per_loop.get(key)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            verify=ssl_context(tls) if tls is not None else default_ssl_context(),
            limits=_LIMITS,
            # Cookies live in the run's jar; the shared client must keep none. A CookieJar (not
            # httpx.Cookies, which httpx would copy into a default jar) is used as it is.
            cookies=_NoCookies(),
            follow_redirects=False,
        )
        per_loop[key] = client
    return client


def tls_files(tls: TlsOptions | None, ctx: StepContext) -> TlsOptions | None:
    """``tls`` with its CA bundle, certificate and key paths checked against the run's file
    root (:meth:`StepContext.resolve_file`) before anything is loaded."""
    if tls is None or ctx.file_root is None:
        return tls
    update = {
        name: ctx.resolve_file(value, f"tls.{name}")
        for name in ("ca_bundle", "cert", "key")
        if (value := getattr(tls, name)) is not None
    }
    return tls.model_copy(update=update) if update else tls


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """What ``verify=True`` means to httpx (certifi's CA bundle, or SSL_CERT_FILE/SSL_CERT_DIR),
    built once per process: loading the bundle costs 40-140 ms, and ``testflow run`` builds
    it in the background while Temporal starts (runtime/local_run.py)."""
    return httpx.create_ssl_context()


class _NoCookies(CookieJar):
    """A jar that never stores or sends anything (cheaper than a refusing policy)."""

    def set_cookie(self, cookie: Any) -> None:
        return None

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


def ssl_context(tls: TlsOptions) -> ssl.SSLContext | bool:
    if not tls.verify and not tls.cert:
        return False
    try:
        if tls.ca_bundle:
            context = ssl.create_default_context(cafile=tls.ca_bundle)
        else:
            import certifi

            context = ssl.create_default_context(cafile=certifi.where())
        if not tls.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if tls.cert:
            context.load_cert_chain(tls.cert, tls.key)
        elif tls.key:
            raise StepFailure(
                "tls.key given without tls.cert", type="InvalidConfig", retryable=False
            )
    except (OSError, ssl.SSLError) as exc:
        raise StepFailure(
            f"cannot load the TLS files (ca_bundle={tls.ca_bundle}, cert={tls.cert}, "
            f"key={tls.key}): {exc}",
            type="InvalidConfig",
            retryable=False,
        ) from exc
    return context


def run_jar(run_id: str) -> httpx.Cookies:
    jar = _jars.get(run_id)
    if jar is None:
        jar = _jars[run_id] = httpx.Cookies()
        while len(_jars) > MAX_RUN_JARS:
            _jars.popitem(last=False)
    else:
        _jars.move_to_end(run_id)
    return jar


async def aclose_clients() -> None:
    """Close the pooled clients of the running loop (worker shutdown, tests)."""
    per_loop = _clients.pop(asyncio.get_running_loop(), {})
    for client in per_loop.values():
        await client.aclose()


def remaining(ctx: StepContext) -> float:
    left = ctx.remaining()
    if left <= 0:
        raise StepFailure(
            "no time left for the request (the step's timeout has passed)", type="Timeout"
        )
    return left


def describe_cause(exc: BaseException, url: str) -> str:
    """A readable cause naming host:port: 'connection refused to 127.0.0.1:9'."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    where = f"{parsed.host}:{port}"
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return f"TLS handshake with {where} failed: {getattr(seen, 'reason', None) or seen}"
        if isinstance(seen, socket.gaierror):
            return f"cannot resolve host {parsed.host} ({seen.strerror})"
        if isinstance(seen, OSError) and seen.errno == errno.ECONNREFUSED:
            return f"connection refused to {where}"
        if isinstance(seen, OSError) and seen.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return f"host unreachable: {where}"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{where} closed the connection or broke the HTTP protocol: {exc}"
    return f"cannot reach {where}: {exc or type(exc).__name__}"
