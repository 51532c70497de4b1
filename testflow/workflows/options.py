"""Mapping of a step's timeout and retry onto Temporal activity options.

Precedence: the step's own value, then the flow's ``defaults``, then the kind's defaults from
the registry. Nothing here uses a global default (ARCHITECTURE.md section 4, rule 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from testflow.dsl.models import Defaults, RetrySpec, StepBase
from testflow.workflows.types import KindOptions

# The executor enforces the step's deadline itself and reports a readable timeout; Temporal's
# start-to-close is a backstop a little later, for an executor that does not return.
TIMEOUT_GRACE = timedelta(seconds=2)
ASSERTION_FAILED = "AssertionFailed"
NON_RETRYABLE_TYPES = ("InvalidConfig", "TemplateError", "Cancelled")
POLL_MIN_ATTEMPTS = 3


@dataclass(frozen=True)
class StepOptions:
    timeout: timedelta
    start_to_close: timedelta
    retry: RetrySpec
    retry_policy: RetryPolicy
    local: bool


def effective_retry(step: StepBase, defaults: Defaults, kind: KindOptions) -> RetrySpec:
    return step.retry or defaults.retry or kind.retry


def effective_timeout(step: StepBase, defaults: Defaults, kind: KindOptions) -> timedelta:
    return step.timeout or defaults.timeout or kind.timeout


def to_retry_policy(spec: RetrySpec) -> RetryPolicy:
    """A Temporal RetryPolicy; assertion failures are final unless ``retry_on_assertion``."""
    non_retryable = list(spec.non_retryable_errors) + list(NON_RETRYABLE_TYPES)
    if not spec.retry_on_assertion:
        non_retryable.append(ASSERTION_FAILED)
    coefficient = spec.coefficient if spec.backoff == "exponential" else 1.0
    return RetryPolicy(
        initial_interval=spec.initial_interval,
        backoff_coefficient=coefficient,
        maximum_interval=spec.max_interval,
        maximum_attempts=spec.attempts,
        non_retryable_error_types=non_retryable,
    )


def step_options(
    step: StepBase, defaults: Defaults, kind: KindOptions, *, poll_within: timedelta | None = None
) -> StepOptions:
    """Activity options for one execution of ``step``.

    Quick kinds run as local activities unless the step (or the flow defaults) asks for
    ``durable: true``; waiting kinds and polls are regular activities that heartbeat.
    """
    timeout = effective_timeout(step, defaults, kind)
    budget = poll_within if poll_within is not None else timeout
    retry = effective_retry(step, defaults, kind)
    durable = step.durable if step.durable is not None else defaults.durable
    local = kind.mode == "quick" and not durable and poll_within is None
    policy = to_retry_policy(retry)
    if poll_within is not None and retry.attempts < POLL_MIN_ATTEMPTS:
        # A poll repeats its step inside one activity; the step's own ``attempts`` (often 1
        # for SQL) would make a worker crash (a heartbeat timeout) fail the poll. Give the
        # activity a few attempts so another worker resumes it (tests/durable/test_crash.py).
        policy.maximum_attempts = POLL_MIN_ATTEMPTS
    return StepOptions(
        timeout=budget,
        start_to_close=budget + TIMEOUT_GRACE,
        retry=retry,
        retry_policy=policy,
        local=local,
    )
