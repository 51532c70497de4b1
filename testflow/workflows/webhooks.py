"""Inbound webhooks of a run: buffered deliveries, per-run URLs and the ``webhook.wait`` step.

Deliveries arrive by signal from the receiver (the CLI's listener or the API) at any time from
the start of the run and are kept in order; a wait consumes the ones it matched, so two
successive waits on one webhook never count the same delivery. Deterministic, no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from testflow.dsl import assertions as assertion_engine
from testflow.dsl.kinds.webhook import WebhookWaitConfig
from testflow.dsl.models import ActionStep, Flow, all_steps
from testflow.dsl.results import StepError, StepOutcome, StepStatus
from testflow.dsl.templating import Renderer
from testflow.workflows.records import outcome
from testflow.workflows.types import FlowInput, WebhookConfig, WebhookDelivery


def declared_hooks(flow: Flow) -> dict[str, dict[str, Any]]:
    """The receiver settings (``signature``, ``responses``; unrendered) of each webhook name."""
    hooks: dict[str, dict[str, Any]] = {}
    for step in all_steps(flow):
        if isinstance(step, ActionStep) and step.type == "webhook.wait":
            keep: dict[str, Any] = {
                k: step.config[k] for k in ("signature", "responses") if k in step.config
            }
            hooks[str(step.config.get("name"))] = keep
    return hooks


class WebhookInbox:
    def __init__(
        self, run_id: str, nonce: str, deliveries: dict[str, list[WebhookDelivery]] | None = None
    ) -> None:
        self.run_id = run_id
        self.nonce = nonce
        self.deliveries: dict[str, list[WebhookDelivery]] = dict(deliveries or {})
        self.consumed: dict[str, int] = {}
        self.specs: dict[str, dict[str, Any]] = {}

    @classmethod
    def open(cls, run_id: str, input: FlowInput, uuid4: Callable[[], UUID]) -> WebhookInbox:
        """The inbox of a run: carried over a continue-as-new, else with a fresh nonce.

        The starter's nonce (``input.webhook_nonce``) is used only by the run it was made
        for: a sub-flow's input is a copy of its parent's and draws its own, and so does a
        run whose id differs from the one the starter signed (a Schedule's run).
        """
        carried = input.carried
        if carried is not None:
            return cls(run_id, carried.webhook_nonce, carried.webhooks)
        given = input.webhook_nonce if input.parent_run_id is None else None
        if given and input.run_id == run_id:
            return cls(run_id, given)
        return cls(run_id, uuid4().hex)

    @property
    def token(self) -> str:
        return f"{self.run_id}~{self.nonce}"

    def add(self, delivery: WebhookDelivery) -> None:
        self.deliveries.setdefault(delivery.name, []).append(delivery)

    def config(self, name: str) -> WebhookConfig:
        spec = self.specs.get(name)
        responses = [
            r if isinstance(r, dict) else {"status": r} for r in (spec or {}).get("responses", [])
        ]
        return WebhookConfig(
            name=name,
            token=self.token,
            known=spec is not None,
            signature=(spec or {}).get("signature"),
            responses=responses,
            received=len(self.deliveries.get(name, [])),
        )

    def declare(
        self, flow: Flow, ctx: dict[str, Any], renderer: Renderer, base: str | None
    ) -> None:
        """Render each ``webhook.wait`` step's receiver settings; expose ``webhooks.<name>``."""
        root = (base or "").rstrip("/")
        urls: dict[str, Any] = {}
        for name, spec in declared_hooks(flow).items():
            self.specs[name] = renderer.render(spec, ctx)
            path = f"/hooks/{self.token}/{name}"
            urls[name] = {"url": f"{root}{path}" if root else None, "path": path}
        if urls:
            ctx["webhooks"] = urls

    def matching(self, cfg: WebhookWaitConfig) -> list[WebhookDelivery]:
        fresh = self.deliveries.get(cfg.name, [])[self.consumed.get(cfg.name, 0) :]
        out = []
        for delivery in fresh:
            if not delivery.accepted:
                continue
            fields = {
                "headers": {k.lower(): v for k, v in delivery.headers.items()},
                "method": delivery.method,
                "query": delivery.query,
            }
            checks = (
                assertion_engine.evaluate(cfg.match, document=delivery.body, fields=fields)
                if cfg.match
                else []
            )
            if all(c.passed for c in checks):
                out.append(delivery)
        return out

    def timed_out(self, cfg: WebhookWaitConfig) -> StepError:
        got = len(self.matching(cfg))
        total = len(self.deliveries.get(cfg.name, []))
        return StepError(
            type="Timeout",
            message=(
                f"webhook {cfg.name!r}: {got} of {cfg.count} matching deliveries within "
                f"{cfg.within} ({total} received)"
            ),
        )

    def take(
        self,
        step: ActionStep,
        cfg: WebhookWaitConfig,
        assertions: dict[str, Any],
        ctx: dict[str, Any],
        renderer: Renderer,
        started: datetime,
        now: datetime,
        masked: Callable[[Any], Any],
    ) -> StepOutcome:
        """Consume the matched deliveries; assert and extract on them."""
        matched = self.matching(cfg)[: cfg.count]
        everything = self.deliveries.get(cfg.name, [])
        last = everything.index(matched[-1]) + 1
        self.consumed[cfg.name] = max(self.consumed.get(cfg.name, 0), last)
        documents = [d.model_dump(mode="json", exclude={"name"}) for d in matched]
        times = [d.received_at for d in everything]
        fields = {
            "count": len(matched),
            "deliveries": [d.model_dump(mode="json", exclude={"name"}) for d in everything],
            "rejected": sum(1 for d in everything if not d.accepted),
            "intervals_ms": [(b - a).total_seconds() * 1000 for a, b in itertools.pairwise(times)],
            "message": documents[0],
            "duration_ms": (now - started).total_seconds() * 1000,
        }
        document: Any = documents if cfg.count > 1 else documents[0]["body"]
        checks = (
            assertion_engine.evaluate(assertions, document=document, fields=fields)
            if assertions
            else []
        )
        error: StepError | None = None
        extracted: dict[str, Any] = {}
        if all(c.passed for c in checks):
            try:
                extracted = assertion_engine.extract(
                    step.extract, document=document, fields=fields, renderer=renderer, context=ctx
                )
            except assertion_engine.ExtractionError as exc:
                error = StepError(type="AssertionFailed", message=f"extract: {exc}")
        else:
            failed = [c for c in checks if not c.passed]
            error = StepError(
                type="AssertionFailed",
                message="; ".join(f"{c.path}: {c.message}" for c in failed[:3]),
            )
        status: StepStatus = "passed" if error is None else "failed"
        summary = f"webhook {cfg.name}: {len(matched)} delivery(ies)"
        return outcome(started, now, status, error=error, summary=summary).model_copy(
            update={
                "assertions": checks,
                "extracted": extracted,
                "preview": {"response": masked(documents[:3])},
            }
        )
