"""Webhook tokens the starter makes, and what a receiver knows of runs without asking them.

A run's webhook URL is ``/hooks/<run_id>~<nonce>/<name>``. The starter (``Engine.start``:
``testflow run``, the API) makes the nonce as ``h`` + HMAC-SHA256(webhook key, run id), so

- the starter knows every URL when the run starts (no query to learn it);
- any receiver holding the key verifies a token with no call to Temporal: a forged token is a
  404 before anything reaches the worker.

The webhook key is derived from the payload encryption keys (``TESTFLOW_ENCRYPTION_KEYS``, else
the per-install key file ``HOME/keys/payload.key``), which the API server, the CLI and the
workers already share; every key verifies, the first one signs, so a key rotation does not
invalidate the URLs of waiting runs. Runs whose workflow drew the nonce itself (sub-flows,
Schedules, runs started before this scheme) keep 32-hex nonces, checked by a query as before.

A :class:`HookBook` is the bounded memory of one process's receivers: per run, its token, the
names of its webhooks and their settings (signature, status sequence). The starter registers
a run when it has started it (:func:`remember_run`), the receiver adds what it learns by query.
Starter and receiver find the same book through the Temporal client they share.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from temporalio.client import Client

from testflow.dsl.models import Flow
from testflow.dsl.templating import Renderer, TemplateError, TemplateRuntime, referenced_names
from testflow.runtime.codec import EncryptionKeys
from testflow.runtime.settings import Settings
from testflow.workflows.types import WebhookConfig
from testflow.workflows.webhooks import WebhookInbox, declared_hooks

TOKEN_SEPARATOR = "~"
NONCE_PREFIX = "h"
_LABEL = b"testflow webhook token v1"


def webhook_keys(settings: Settings) -> list[bytes]:
    """The webhook keys of this install, derived from each payload key (first one signs)."""
    text = settings.encryption_keys
    if not text:
        EncryptionKeys.load_or_create(None, settings.home)  # creates the key file once
        text = (settings.home / "keys" / "payload.key").read_text().strip()
    else:
        EncryptionKeys.parse(text)  # the same validation (and errors) as the payload codec
    raw = [base64.b64decode(item.partition(":")[2]) for item in text.split(",") if item.strip()]
    # A derived key, not the AES key itself: a token never depends on the encryption key
    # directly, and one key is never used by two algorithms.
    return [hmac.new(key, _LABEL, hashlib.sha256).digest() for key in raw]


def make_nonce(key: bytes, run_id: str) -> str:
    return NONCE_PREFIX + hmac.new(key, run_id.encode(), hashlib.sha256).hexdigest()[:40]


@dataclass
class KnownRun:
    """What a receiver knows of one run's webhooks."""

    token: str
    names: frozenset[str] | None
    """Every webhook name the run declares, or None when only some are known."""
    configs: dict[str, WebhookConfig] = field(default_factory=dict)
    # Position in each status sequence (see WebhookReceiver): kept per run, evicted with it.
    sent: dict[str, int] = field(default_factory=dict)
    unsequenced: dict[str, int] = field(default_factory=dict)


class HookBook:
    """Bounded (LRU) per-run webhook knowledge plus the keys that verify tokens."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._runs: OrderedDict[str, KnownRun] = OrderedDict()
        self._keys: list[bytes] = []

    def trust(self, keys: list[bytes]) -> None:
        self._keys.extend(k for k in keys if k not in self._keys)

    def verify(self, run_id: str, nonce: str) -> bool | None:
        """Whether a starter-made nonce is genuine; None for a nonce the workflow drew."""
        if not nonce.startswith(NONCE_PREFIX) or not self._keys:
            return None
        given = nonce.encode()
        # Constant-time: the nonce is what makes the URL unguessable.
        return any(hmac.compare_digest(make_nonce(k, run_id).encode(), given) for k in self._keys)

    def get(self, run_id: str) -> KnownRun | None:
        known = self._runs.get(run_id)
        if known is not None:
            self._runs.move_to_end(run_id)
        return known

    def put(self, run_id: str, known: KnownRun) -> None:
        self._runs[run_id] = known
        self._runs.move_to_end(run_id)
        while len(self._runs) > self.size:
            self._runs.popitem(last=False)

    def learn(self, run_id: str, config: WebhookConfig) -> KnownRun:
        """Keep a config the run answered (its token was checked by the caller)."""
        known = self.get(run_id)
        if known is None or known.token != config.token:
            known = KnownRun(token=config.token, names=None)
            self.put(run_id, known)
        known.configs[config.name] = config
        return known

    def forget(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    def __len__(self) -> int:
        return len(self._runs)


_books: weakref.WeakKeyDictionary[Client, HookBook] = weakref.WeakKeyDictionary()


def book_for(client: Client) -> HookBook:
    """The book of the receivers and starters using ``client`` (one per client)."""
    book = _books.get(client)
    if book is None:
        book = _books[client] = HookBook()
    return book


def static_configs(
    flow: Flow, token: str, env: Mapping[str, str], secrets: Mapping[str, str]
) -> tuple[frozenset[str], dict[str, WebhookConfig]]:
    """(all webhook names, the configs the starter can know) of a flow about to start.

    The workflow renders each hook's settings when the run starts; the starter renders them
    the same way when they read only ``secret(...)``, ``env.X`` and constants. Anything else
    (context variables, ``random``, ``now()``...) is left to the receiver's first query.
    """
    run_id, _, nonce = token.rpartition(TOKEN_SEPARATOR)
    inbox = WebhookInbox(run_id, nonce)
    renderer = Renderer(
        TemplateRuntime(rng=_Refuse(), clock=_refuse, uuid4=_refuse, env=env, secrets=secrets)
    )
    hooks = declared_hooks(flow)
    configs: dict[str, WebhookConfig] = {}
    for name, spec in hooks.items():
        if referenced_names(spec):
            continue
        try:
            inbox.specs[name] = renderer.render(spec, {})
        except (TemplateError, _NotStatic):
            continue
        configs[name] = inbox.config(name)
    return frozenset(hooks), configs


def starter_nonce(keys: list[bytes], run_id: str, flow: Flow) -> str | None:
    """The nonce of a run about to start (``FlowInput.webhook_nonce``); None when the flow
    waits for no webhook or no key is known (the workflow then draws one)."""
    if not keys or not declared_hooks(flow):
        return None
    return make_nonce(keys[0], run_id)


def remember_run(
    client: Client,
    run_id: str,
    nonce: str,
    flow: Flow,
    env: Mapping[str, str],
    secrets: Mapping[str, str],
) -> None:
    """Tell this process's receivers about a run just started, so its first delivery needs
    no query. Called after the start succeeded: a start that failed (an id already in use)
    must not shadow the token of the run that owns the id."""
    token = f"{run_id}{TOKEN_SEPARATOR}{nonce}"
    names, configs = static_configs(flow, token, env, secrets)
    book_for(client).put(run_id, KnownRun(token=token, names=names, configs=configs))


class _NotStatic(Exception):
    """A template used something only the workflow can compute deterministically."""


def _refuse(*_: Any) -> NoReturn:
    raise _NotStatic


class _Refuse(random.Random):
    def random(self) -> float:
        raise _NotStatic

    def getrandbits(self, k: int, /) -> int:
        raise _NotStatic
