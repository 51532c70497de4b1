"""testflow's search attributes: every run is listed and filtered by these (Temporal UI, API)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

FLOW = SearchAttributeKey.for_keyword("TestflowFlow")
TAGS = SearchAttributeKey.for_keyword_list("TestflowTags")
STATUS = SearchAttributeKey.for_keyword("TestflowStatus")
ENVIRONMENT = SearchAttributeKey.for_keyword("TestflowEnvironment")

SEARCH_ATTRIBUTES = (FLOW, TAGS, STATUS, ENVIRONMENT)


def run_attributes(
    name: str, tags: Iterable[str], environment: str | None
) -> TypedSearchAttributes:
    """The search attributes a run (flow or suite) starts with: status ``running`` until its
    workflow sets the final one. The order is part of the start command: keep it."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(FLOW, name),
        SearchAttributePair(STATUS, "running"),
        SearchAttributePair(TAGS, list(tags)),
    ]
    if environment is not None:
        pairs.append(SearchAttributePair(ENVIRONMENT, environment))
    return TypedSearchAttributes(pairs)
