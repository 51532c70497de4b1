"""Assertions and extraction: every matcher passing and failing, key kinds, diffs, static checks."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testflow.dsl.assertions import MATCHERS, ExtractionError, check_spec, evaluate, extract
from testflow.dsl.results import AssertionOutcome
from testflow.dsl.templating import Renderer, TemplateRuntime

DOCUMENT: dict[str, Any] = {
    "id": "o-1",
    "status": "NEW",
    "price": 42,
    "total": 99.5,
    "paid": False,
    "note": None,
    "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "vip": True},
    "items": [
        {"sku": "book", "qty": 2, "price": 10},
        {"sku": "pen", "qty": 1, "price": 2},
    ],
    "tags": ["new", "priority"],
}
FIELDS: dict[str, Any] = {
    "status": 201,
    "headers": {"Content-Type": "application/json; charset=utf-8", "X.Trace.Id": "abc"},
    "duration_ms": 123.4,
    "body": DOCUMENT,
}
HTTP_FIELDS = ("status", "headers", "body", "duration_ms")


def run(spec: dict[str, Any], **kwargs: Any) -> list[AssertionOutcome]:
    kwargs.setdefault("document", DOCUMENT)
    kwargs.setdefault("fields", FIELDS)
    return evaluate(spec, **kwargs)


def one(spec: dict[str, Any], **kwargs: Any) -> AssertionOutcome:
    outcomes = run(spec, **kwargs)
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


# -- every matcher, passing and failing ----------------------------------------------------------

CASES: list[tuple[str, Any, Any, str]] = [
    # (matcher, value in the document, passing operand, failing operand)
    ("eq", 42, 42, 43),
    ("ne", 42, 43, 42),
    ("gt", 42, 41, 42),
    ("gte", 42, 42, 43),
    ("lt", 42, 43, 42),
    ("lte", 42, 42, 41),
    ("in", "NEW", ["NEW", "OPEN"], ["DONE"]),
    ("not_in", "NEW", ["DONE"], ["NEW", "OPEN"]),
    ("contains", ["new", "priority"], "new", "old"),
    ("not_contains", ["new", "priority"], "old", "new"),
    ("matches", "ada@example.com", r"^[^@]+@example\.com$", r"@other\."),
    ("type", {"a": 1}, "object", "array"),
    ("len", [1, 2, 3], 3, 2),
    ("schema", {"a": 1}, {"type": "object", "required": ["a"]}, {"required": ["b"]}),
    ("subset", {"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 2}}, {"b": {"c": 3}}),
]


@pytest.mark.parametrize(("matcher", "value", "passing", "failing"), CASES)
def test_matcher_passes_and_fails_with_a_message(
    matcher: str, value: Any, passing: Any, failing: Any
) -> None:
    document = {"v": value}
    ok = one({"$.v": {matcher: passing}}, document=document)
    assert ok.passed, ok.message
    assert (ok.path, ok.matcher) == ("$.v", matcher)
    assert ok.message.startswith("$.v: ")

    bad = one({"$.v": {matcher: failing}}, document=document)
    assert not bad.passed
    assert bad.matcher == matcher
    assert bad.expected == failing
    assert bad.actual == value
    assert bad.message.startswith("$.v: ") and len(bad.message) > len("$.v: ") + 5


def test_every_matcher_is_covered() -> None:
    covered = {case[0] for case in CASES} | {"exists"}
    assert covered == set(MATCHERS)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"$.price": 43}, "expected 43, got 42"),
        ({"$.price": "42"}, "types differ: expected string, got integer"),
        ({"$.price": {"gt": 50}}, "expected > 50, got 42"),
        ({"$.price": {"lte": 10}}, "expected <= 10, got 42"),
        (
            {"$.status": {"in": ["DONE", "SHIPPED"]}},
            'expected one of ["DONE", "SHIPPED"], got "NEW"',
        ),
        ({"$.tags": {"contains": "old"}}, 'expected to contain "old"'),
        ({"$.customer.email": {"matches": "^bob"}}, "expected to match /^bob/"),
        ({"$.customer": {"type": "string"}}, "expected type string, got object"),
        ({"$.items": {"len": 5}}, "expected length 5, got 2"),
        ({"$.price": {"gt": "abc"}}, "cannot compare integer 42 with string"),
        ({"$.price": {"matches": "4"}}, None),  # numbers can be matched as text: passes
    ],
)
def test_failure_messages_are_readable(spec: dict[str, Any], fragment: str | None) -> None:
    outcome = one(spec)
    if fragment is None:
        assert outcome.passed
    else:
        assert not outcome.passed
        assert fragment in outcome.message, outcome.message


# -- exists --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "exists", "passed"),
    [
        ("$.id", True, True),
        ("$.id", False, False),
        ("$.nope", False, True),
        ("$.nope", True, False),
        ("$.note", True, True),  # null is a value that exists
        ("$.items[?@.qty > 5]", False, True),
        ("headers.content-type", True, True),
        ("headers.X-Missing", False, True),
        ("headers.X-Missing", True, False),
    ],
)
def test_exists(key: str, exists: bool, passed: bool) -> None:
    outcome = one({key: {"exists": exists}})
    assert outcome.passed is passed, outcome.message


def test_other_matchers_on_a_missing_path_fail_and_say_why() -> None:
    outcome = one({"$.nope": {"eq": 1}})
    assert not outcome.passed
    assert "matched nothing" in outcome.message
    assert outcome.actual is None


# -- key kinds -----------------------------------------------------------------------------------


def test_result_fields_and_dotted_fields() -> None:
    outcomes = run(
        {
            "status": 201,
            "duration_ms": {"lt": 500},
            "headers.content-type": {"contains": "json"},  # header names are case-insensitive
            "headers.Content-Type": {"matches": "^application/json"},
            "headers.X.Trace.Id": "abc",  # a header name containing dots
            "body.customer.name": "Ada Lovelace",
            "body.items.1.sku": "pen",  # list index in a dotted path
        }
    )
    assert [o.passed for o in outcomes] == [True] * 7, [o.message for o in outcomes]


def test_unknown_field_fails_with_the_reason() -> None:
    outcome = one({"row_count": 1})
    assert not outcome.passed
    assert "no field 'row_count'" in outcome.message
    missing_header = one({"headers.X-Nope": "x"})
    assert not missing_header.passed and "'X-Nope'" in missing_header.message


def test_several_matchers_in_one_mapping() -> None:
    outcomes = run({"$.price": {"gte": 10, "lt": 100, "type": "integer"}})
    assert [(o.matcher, o.passed) for o in outcomes] == [
        ("gte", True),
        ("lt", True),
        ("type", True),
    ]
    mixed = run({"$.price": {"gte": 10, "lt": 40}})
    assert [o.passed for o in mixed] == [True, False]


def test_a_mapping_that_is_not_all_matchers_is_compared_for_equality() -> None:
    outcome = one({"$.items[1]": {"sku": "pen", "qty": 1, "price": 2}})
    assert outcome.passed and outcome.matcher == "eq"
    failed = one({"$.customer": {"name": "Ada Lovelace"}})
    assert not failed.passed and failed.matcher == "eq"


def test_eq_on_an_object_that_looks_like_matchers_uses_explicit_eq() -> None:
    outcome = one({"$.v": {"eq": {"type": "x"}}}, document={"v": {"type": "x"}})
    assert outcome.passed


def test_len_counts_matches_of_a_wildcard_path() -> None:
    assert one({"$.items[*]": {"len": 2}}).passed
    assert one({"$.items[?@.qty > 1]": {"len": 1}}).passed
    assert one({"$.items[?@.qty > 5]": {"len": 0}}).passed
    assert one({"$..sku": {"len": {"gte": 2, "lt": 3}}}).passed
    # A singular path's len is the length of the value it selects.
    assert one({"$.items": {"len": 2}}).passed
    assert one({"$.customer.name": {"len": 12}}).passed
    failed = one({"$.price": {"len": 2}})
    assert not failed.passed and "has no length" in failed.message


def test_wildcard_path_compares_the_first_match() -> None:
    assert one({"$.items[*].sku": "book"}).passed


def test_schema_key_validates_the_document() -> None:
    schema = {
        "type": "object",
        "required": ["id", "price"],
        "properties": {
            "id": {"type": "string"},
            "price": {"type": "integer", "minimum": 0},
            "customer": {
                "type": "object",
                "properties": {"email": {"type": "string", "format": "email"}},
            },
        },
    }
    assert one({"schema": schema}).passed
    bad = one({"schema": {**schema, "properties": {"price": {"type": "string"}}}})
    assert not bad.passed
    assert "$.price: 42 is not of type 'string'" in bad.message
    several = one({"schema": {"properties": {"id": {"type": "integer"}, "paid": {"const": True}}}})
    assert "$.id" in several.message and "$.paid" in several.message
    invalid = one({"schema": {"type": "nonsense"}})
    assert not invalid.passed and "invalid JSON Schema" in invalid.message
    file_ref = one({"schema": "schemas/order.json"})
    assert not file_ref.passed and "inlined by the loader" in file_ref.message


def test_schema_as_a_matcher_on_a_path() -> None:
    outcome = one({"$.items[0]": {"schema": {"type": "object", "required": ["sku", "qty"]}}})
    assert outcome.passed


def test_body_and_subset_keys_match_the_document_as_a_subset() -> None:
    assert one({"body": {"id": "o-1", "customer": {"vip": True}}}).passed
    assert one({"subset": {"items": [{"sku": "pen"}]}}).passed
    assert one({"body": {"items": [{"sku": "pen"}, {"sku": "book"}]}}).passed  # any order
    failed = one({"body": {"customer": {"vip": False}}})
    assert not failed.passed and failed.matcher == "subset"
    assert "at $.customer.vip: expected false, got true" in failed.message
    missing = one({"body": {"customer": {"phone": "1"}}})
    assert "missing key 'phone'" in missing.message
    # Matchers work on the whole document too.
    assert one({"body": {"type": "object"}}).passed


@pytest.mark.parametrize(
    ("expected", "actual", "passed"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": {"b": [1]}}, {"a": {"b": [2, 1], "c": 0}}, True),
        ([1, 1], [1, 2], False),  # each expected element needs its own actual element
        ([1, 1], [1, 2, 1], True),
        ([{"a": 1}, {"a": 1, "b": 2}], [{"a": 1, "b": 2}, {"a": 1}], True),  # needs matching
        ([], [1], True),
        ({}, {"x": 1}, True),
        ({"a": None}, {}, False),
        ({"a": 1}, [1], False),
        (1, 1.0, True),
        (True, 1, False),
    ],
)
def test_subset_semantics(expected: Any, actual: Any, passed: bool) -> None:
    outcome = one({"$.v": {"subset": expected}}, document={"v": actual})
    assert outcome.passed is passed, outcome.message


def test_that_expressions_see_context_and_result() -> None:
    outcomes = run(
        {
            "that": [
                "result.status == 201",
                "{{ result.document.price > limit }}",
                "result.document['items'] | length == 2",
                "result.headers['Content-Type'].startswith('application/json')",
                "result.document.price > 1000",
            ]
        },
        context={"limit": 10},
    )
    assert [o.passed for o in outcomes] == [True, True, True, True, False]
    assert [o.path for o in outcomes] == [f"that[{i}]" for i in range(5)]
    assert outcomes[4].matcher == "expression"
    assert "result.document.price > 1000 is false" in outcomes[4].message


def test_that_accepts_one_expression_and_reports_errors_as_failures() -> None:
    assert one({"that": "result.status < 300"}).passed
    broken = one({"that": ["nope > 1"]})
    assert not broken.passed and "'nope' is undefined" in broken.message
    not_text = one({"that": [3]})
    assert not not_text.passed and "must be text" in not_text.message


def test_that_shows_the_value_of_a_non_boolean_expression() -> None:
    outcome = one({"that": ["result.document.note"]})
    assert not outcome.passed and "(value null)" in outcome.message


def test_templates_in_expected_values_are_rendered_with_the_renderer() -> None:
    renderer = Renderer(
        TemplateRuntime(
            rng=random.Random(1), clock=lambda: datetime(2024, 1, 1, tzinfo=UTC), uuid4=uuid.uuid4
        )
    )
    outcomes = run(
        {
            "$.id": "{{ orderId }}",
            "$.price": {"gte": "{{ minimum }}"},
            "status": "{{ result.status }}",
        },
        renderer=renderer,
        context={"orderId": "o-1", "minimum": 40},
    )
    assert [o.passed for o in outcomes] == [True, True, True]
    assert outcomes[1].expected == 40  # rendered natively, an int
    error = one({"$.id": "{{ missing }}"}, renderer=renderer)
    assert not error.passed and "could not render" in error.message


def test_without_a_renderer_expected_values_are_taken_literally() -> None:
    outcome = one({"$.id": "{{ orderId }}"}, context={"orderId": "o-1"})
    assert not outcome.passed


def test_invalid_jsonpath_key_is_a_failed_outcome() -> None:
    outcome = one({"$.items[": 1})
    assert not outcome.passed and outcome.matcher == "jsonpath"
    assert "invalid JSONPath" in outcome.message


def test_outcomes_follow_spec_order() -> None:
    spec = {"that": ["true"], "status": 201, "$.id": "o-1", "schema": {"type": "object"}}
    assert [o.path for o in run(spec)] == ["that[0]", "status", "$.id", "schema"]


# -- equality rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected", "passed"),
    [
        (1, 1.0, True),
        (Decimal("10.50"), 10.5, True),
        (Decimal("3"), 3, True),
        (True, 1, False),
        (0, False, False),
        ("201", 201, False),
        (None, None, True),
        (None, "null", False),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05+00:00", True),
        (date(2024, 1, 2), "2024-01-02", True),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001", True),
        ([1, [2, {"a": 3}]], [1, [2, {"a": 3}]], True),
        ([1, 2], [2, 1], False),
        ({"a": 1}, {"a": 1, "b": None}, False),
    ],
)
def test_equality_is_json_minded(actual: Any, expected: Any, passed: bool) -> None:
    assert one({"$.v": expected}, document={"v": actual}).passed is passed


def test_ordering_with_dates_decimals_and_text() -> None:
    document = {
        "at": datetime(2024, 5, 1, tzinfo=UTC),
        "amount": Decimal("10.5"),
        "name": "beta",
    }
    assert one({"$.at": {"gt": "2024-04-30T00:00:00+00:00"}}, document=document).passed
    assert one({"$.amount": {"lt": 10.6}}, document=document).passed
    assert one({"$.name": {"gte": "alpha"}}, document=document).passed
    bad = one({"$.at": {"gt": "yesterday"}}, document=document)
    assert not bad.passed and "not an ISO date-time" in bad.message


def test_type_matcher_names() -> None:
    document = {"i": 1, "f": 1.5, "s": "x", "b": True, "n": None, "l": [], "o": {}}
    for key, names in {
        "i": ["integer", "number", "int"],
        "f": ["number", "float"],
        "s": ["string", "str"],
        "b": ["boolean", "bool"],
        "n": ["null", "none"],
        "l": ["array", "list"],
        "o": ["object", "dict"],
    }.items():
        for name in names:
            assert one({f"$.{key}": {"type": name}}, document=document).passed, (key, name)
    assert not one({"$.b": {"type": "integer"}}, document=document).passed
    assert one({"$.n": {"type": ["string", "null"]}}, document=document).passed
    unknown = one({"$.i": {"type": "whole"}}, document=document)
    assert not unknown.passed and "unknown type" in unknown.message


def test_contains_and_in_on_each_container() -> None:
    document = {
        "text": "hello world",
        "obj": {"a": 1, "b": {"c": 2}},
        "list": [{"a": 1, "b": 2}, 3],
    }
    assert one({"$.text": {"contains": "world"}}, document=document).passed
    assert one({"$.obj": {"contains": "a"}}, document=document).passed  # a key
    assert one({"$.obj": {"contains": {"b": {"c": 2}}}}, document=document).passed  # a subset
    assert one({"$.list": {"contains": {"a": 1}}}, document=document).passed  # element subset
    assert one({"$.list": {"contains": [3]}}, document=document).passed  # all of these
    assert one({"$.list": {"not_contains": 4}}, document=document).passed
    assert one({"$.text": {"in": "say hello world!"}}, document=document).passed
    mismatch = one({"$.text": {"contains": 3}}, document=document)
    assert not mismatch.passed and "cannot look for integer in string" in mismatch.message


# -- diffs ---------------------------------------------------------------------------------------


def test_failed_structural_eq_has_a_unified_diff() -> None:
    outcome = one({"$.items[0]": {"sku": "book", "qty": 3, "price": 10}})
    assert outcome.diff is not None
    assert outcome.diff.startswith("--- expected\n+++ actual")
    assert '-  "qty": 3,' in outcome.diff and '+  "qty": 2,' in outcome.diff


def test_subset_diff_shows_only_the_expected_keys() -> None:
    outcome = one({"body": {"customer": {"name": "Bob"}}})
    assert outcome.diff is not None
    assert '-    "name": "Bob"' in outcome.diff and '+    "name": "Ada Lovelace"' in outcome.diff
    assert "email" not in outcome.diff  # keys the expectation does not name are left out


def test_scalar_failures_and_passes_have_no_diff() -> None:
    assert one({"$.price": 1}).diff is None
    assert one({"$.customer": DOCUMENT["customer"]}).diff is None


def test_large_actual_values_are_truncated_in_outcomes() -> None:
    big = {"rows": [{"i": i, "text": "x" * 50} for i in range(500)]}
    outcome = one({"$.rows": {"len": 1}}, document=big)
    assert isinstance(outcome.actual, str) and "characters)" in outcome.actual
    assert len(outcome.actual) < 5000


def test_outcomes_are_json_safe() -> None:
    document = {"v": {"at": datetime(2024, 1, 1, tzinfo=UTC), "n": Decimal("1.5"), "b": b"hi"}}
    outcome = one({"$.v": {"eq": 1}}, document=document)
    assert outcome.actual == {"at": "2024-01-01T00:00:00+00:00", "n": 1.5, "b": "hi"}
    outcome.model_dump_json()  # serialisable as it stands


# -- extraction ----------------------------------------------------------------------------------


def test_extract_every_kind_of_expression() -> None:
    extracted = extract(
        {
            "orderId": "$.id",
            "firstSku": "$.items[*].sku",
            "status": "status",
            "contentType": "headers.content-type",
            "location": "headers.X.Trace.Id",
            "doubled": "{{ result.document.price * 2 }}",
            "label": "order {{ orderId }} for {{ who }}",
            "next": "{{ orderId ~ '-next' }}",
        },
        document=DOCUMENT,
        fields=FIELDS,
        context={"who": "Ada"},
    )
    assert extracted == {
        "orderId": "o-1",
        "firstSku": "book",
        "status": 201,
        "contentType": "application/json; charset=utf-8",
        "location": "abc",
        "doubled": 84,
        "label": "order o-1 for Ada",
        "next": "o-1-next",
    }


def test_extract_keeps_native_types_and_null() -> None:
    extracted = extract(
        {"customer": "$.customer", "note": "$.note", "items": "{{ result.document['items'] }}"},
        document=DOCUMENT,
        fields=FIELDS,
    )
    assert extracted["customer"] == DOCUMENT["customer"]
    assert extracted["note"] is None
    assert extracted["items"] == DOCUMENT["items"]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"x": "$.missing"}, "matched nothing"),
        ({"x": "$.items["}, "invalid JSONPath"),
        ({"x": "row_count"}, "no field 'row_count'"),
        ({"x": "headers.X-Nope"}, "'X-Nope'"),
        ({"x": "{{ nope }}"}, "'nope' is undefined"),
    ],
)
def test_extract_errors_name_the_variable_and_expression(
    spec: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ExtractionError) as info:
        extract(spec, document=DOCUMENT, fields=FIELDS)
    assert info.value.name == "x"
    assert info.value.expression == spec["x"]
    assert fragment in info.value.message
    assert str(info.value).startswith("x: ")


def test_extract_uses_the_given_renderer() -> None:
    runtime = TemplateRuntime(
        rng=random.Random(5),
        clock=lambda: datetime(2024, 1, 1, tzinfo=UTC),
        uuid4=lambda: uuid.UUID(int=9),
        secrets={"KEY": "k3y"},
    )
    extracted = extract(
        {"sig": "{{ hmac(secret('KEY'), result.document.id) }}", "u": "{{ uuid() }}"},
        document=DOCUMENT,
        fields=FIELDS,
        renderer=Renderer(runtime),
    )
    assert extracted["u"] == str(uuid.UUID(int=9))
    assert len(extracted["sig"]) == 64


@given(
    st.recursive(
        st.integers() | st.text() | st.booleans() | st.none(),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=10,
    )
)
def test_extract_then_assert_round_trip(value: Any) -> None:
    document = {"v": value}
    extracted = extract({"v": "$.v"}, document=document, fields={})
    assert extracted["v"] == value
    assert evaluate({"$.v": {"eq": extracted["v"]}}, document=document, fields={})[0].passed
    assert evaluate({"$.v": {"subset": extracted["v"]}}, document=document, fields={})[0].passed


# -- static checks -------------------------------------------------------------------------------


def test_check_spec_accepts_a_good_spec() -> None:
    spec = {
        "status": 201,
        "headers.Content-Type": {"contains": "json"},
        "duration_ms": {"lt": 500},
        "$.price": {"gte": 10, "lt": "{{ maxPrice }}"},
        "$.items[*]": {"len": {"gte": 1}},
        "$.id": {"matches": "^o-", "type": "string"},
        "$.note": {"exists": False},
        "$.status": {"in": ["NEW", "OPEN"]},
        "$.customer": {"name": "Ada"},
        "schema": {"type": "object"},
        "body": {"id": "{{ orderId }}"},
        "that": ["result.status == 201", "{{ x > 1 }}"],
    }
    assert check_spec(spec, HTTP_FIELDS) == []


@pytest.mark.parametrize(
    ("spec", "location", "fragment"),
    [
        ({"stauts": 201}, ("stauts",), "did you mean 'status'?"),
        ({"rows": 1}, ("rows",), "unknown result field 'rows'"),
        ({"gte": 1}, ("gte",), "a matcher goes under a key"),
        ({"$.items[": 1}, ("$.items[",), "invalid JSONPath"),
        ({"$.a": {"gte": 1, "ltt": 3}}, ("$.a", "ltt"), "did you mean 'lt'?"),
        ({"$.a": {"gtee": 1}}, ("$.a", "gtee"), "did you mean 'gte'?"),
        ({"$.a": {"gte": [1]}}, ("$.a", "gte"), "needs a number"),
        ({"$.a": {"in": 3}}, ("$.a", "in"), "needs a list"),
        ({"$.a": {"matches": "(unclosed"}}, ("$.a", "matches"), "invalid regular expression"),
        ({"$.a": {"matches": 3}}, ("$.a", "matches"), "needs a regular expression"),
        ({"$.a": {"exists": "yes"}}, ("$.a", "exists"), "needs true or false"),
        ({"$.a": {"type": "strng"}}, ("$.a", "type"), "did you mean 'string'?"),
        ({"$.a": {"len": -1}}, ("$.a", "len"), "non-negative integer"),
        ({"$.a": {"len": {"gte": [1]}}}, ("$.a", "len", "gte"), "needs a number"),
        ({"schema": {"type": 5}}, ("schema",), "invalid JSON Schema"),
        ({"$.a": {"schema": []}}, ("$.a", "schema"), "a schema is an object"),
        ({"that": ["x >"]}, ("that", 0), "syntax error"),
        ({"that": ["ok", 5]}, ("that", 1), "must be text"),
        ({"that": ["{{ a }} {{ b }}"]}, ("that", 0), "expected one expression"),
        ({"that": {"a": 1}}, ("that",), "needs an expression"),
        ({"status": "{{ broken "}, ("status",), "syntax error"),
        ({"$.a": {"eq": "{% if %}"}}, ("$.a", "eq"), "syntax error"),
    ],
)
def test_check_spec_reports_problems_where_they_are(
    spec: dict[str, Any], location: tuple[Any, ...], fragment: str
) -> None:
    problems = check_spec(spec, HTTP_FIELDS)
    assert len(problems) == 1, problems
    assert problems[0][0] == location
    assert fragment in problems[0][1], problems[0][1]


def test_check_spec_allows_templates_as_operands() -> None:
    spec = {
        "$.a": {"gte": "{{ low }}", "in": "{{ allowed }}", "exists": "{{ flag }}", "len": "{{ n }}"}
    }
    assert check_spec(spec, HTTP_FIELDS) == []


def test_check_spec_allows_a_schema_file_reference() -> None:
    assert check_spec({"schema": "schemas/order.json"}, HTTP_FIELDS) == []


def test_check_spec_does_not_mistake_body_objects_for_matchers() -> None:
    assert check_spec({"body": {"types": ["a"], "lenn": 1}}, HTTP_FIELDS) == []
    assert check_spec({"$.a": {"name": "x", "type": "y"}}, HTTP_FIELDS) == []
