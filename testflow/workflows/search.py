"""testflow's search attributes: every run is listed and filtered by these (Temporal UI, API)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

FLOW = SearchAttributeKey.for_keyword("TestflowFlow")
TAGS = SearchAttributeKey.for_keyword_list("TestflowTags")
STATUS = SearchAttributeKey.for_keyword("TestflowStatus")
ENVIRONMENT = SearchAttributeKey.for_keyword("TestflowEnvironment")

SEARCH_ATTRIBUTES = (FLOW, TAGS, STATUS, ENVIRONMENT)
