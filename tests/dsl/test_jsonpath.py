"""JSONPath: RFC 9535 queries, strict rejection of non-standard syntax, readable errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from testflow.dsl.jsonpath import (
    JSONPathError,
    NoMatch,
    compile_path,
    find_all,
    find_one,
    is_singular,
    path_error,
)

STORE = {
    "store": {
        "book": [
            {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
            {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
            {
                "category": "fiction",
                "author": "Herman Melville",
                "title": "Moby Dick",
                "isbn": "0-553-21311-3",
                "price": 8.99,
            },
            {
                "category": "fiction",
                "author": "J. R. R. Tolkien",
                "title": "The Lord of the Rings",
                "isbn": "0-395-19395-8",
                "price": 22.99,
            },
        ],
        "bicycle": {"color": "red", "price": 399},
    },
    "weird keys": {"a.b": 1, "it's": 2},
    "empty": [],
    "nothing": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", [STORE]),
        ("$.store.bicycle.color", ["red"]),
        ("$['store']['bicycle']['color']", ["red"]),
        (
            "$.store.book[*].author",
            ["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"],
        ),
        ("$..author", ["Nigel Rees", "Evelyn Waugh", "Herman Melville", "J. R. R. Tolkien"]),
        ("$.store..price", [8.95, 12.99, 8.99, 22.99, 399]),
        ("$.store.book[2].title", ["Moby Dick"]),
        ("$.store.book[-1].title", ["The Lord of the Rings"]),
        ("$.store.book[0:2].price", [8.95, 12.99]),
        ("$.store.book[:2].price", [8.95, 12.99]),
        ("$.store.book[::2].price", [8.95, 8.99]),
        ("$.store.book[-2:].price", [8.99, 22.99]),
        ("$.store.book[0,1].price", [8.95, 12.99]),
        ("$.store.book[?@.isbn].title", ["Moby Dick", "The Lord of the Rings"]),
        ("$.store.book[?@.price < 10].title", ["Sayings", "Moby Dick"]),
        ("$.store.book[?@.category == 'fiction' && @.price > 20].title", ["The Lord of the Rings"]),
        ("$.store.book[?!@.isbn].title", ["Sayings", "Sword"]),
        ("$.store.book[?(@.price > 20)].title", ["The Lord of the Rings"]),
        ("$.store.book[?length(@.title) == 5].title", ["Sword"]),
        ("$.store.book[?match(@.author, 'H.*')].title", ["Moby Dick"]),
        ("$.store.book[?search(@.author, 'Tolk')].title", ["The Lord of the Rings"]),
        ("$.store.book[?count(@.*) == 5].title", ["Moby Dick", "The Lord of the Rings"]),
        ("$..book[?@.price == $.store.book[0].price].title", ["Sayings"]),
        ("$['weird keys']['a.b']", [1]),
        ('$["weird keys"]["it\'s"]', [2]),
        ("$.store.bicycle.*", ["red", 399]),
        ("$.empty[*]", []),
        ("$.nothing", [None]),
        ("$.store.missing", []),
        ("$.store.book[99]", []),
    ],
)
def test_find_all(path: str, expected: list[Any]) -> None:
    assert find_all(STORE, path) == expected


def test_find_one_returns_the_first_match() -> None:
    assert find_one(STORE, "$..price") == 8.95
    assert find_one(STORE, "$.nothing") is None  # a null that exists is a match


def test_find_one_without_match_raises_no_match() -> None:
    with pytest.raises(NoMatch, match=r"'\$\.store\.nope' matched nothing") as info:
        find_one(STORE, "$.store.nope")
    assert isinstance(info.value, JSONPathError)
    assert info.value.path == "$.store.nope"


@pytest.mark.parametrize(
    "path",
    [
        "store.book",  # no root
        "$.a | $.b",  # union operator extension
        "$.store.~",  # keys selector extension
        "$.store.book[?@.price > 1 && #]",  # current key extension
        "$.store.book[?@.author =~ /Nigel/]",  # regex operator extension
        " $.store",  # leading whitespace
        "$.store ",  # trailing whitespace
        "$.store.book[?@.price = 1]",  # assignment is not comparison
        "$..",
        "$[",
        "$.store.book[1:2:0:1]",
        "$.store.book[?@.price > 1 and @.x]",  # words instead of && ||
        "$.store.book[?@.author == \"x']",
        "",
    ],
)
def test_non_standard_or_broken_syntax_is_rejected(path: str) -> None:
    with pytest.raises(JSONPathError) as info:
        compile_path(path)
    assert info.value.path == path
    assert "invalid JSONPath" in info.value.message
    assert "\n" not in info.value.message  # one readable line, not the library's ASCII art
    assert path_error(path) == info.value.message


def test_error_message_points_at_the_problem() -> None:
    message = path_error("$.a | $.b")
    assert message is not None and "position 4" in message and "'|'" in message
    missing_root = path_error("id")
    assert missing_root is not None and "starts with '$'" in missing_root
    assert path_error("$.store[") is not None and "at the end" in (path_error("$.store[") or "")


def test_non_string_path_is_an_error() -> None:
    with pytest.raises(JSONPathError, match="must be a string"):
        compile_path(3)  # type: ignore[arg-type]


def test_valid_paths_have_no_error_and_compile_once() -> None:
    assert path_error("$.store.book[?@.price < 10].title") is None
    assert compile_path("$.store.bicycle") is compile_path("$.store.bicycle")


@pytest.mark.parametrize(
    ("path", "singular"),
    [
        ("$", True),
        ("$.a.b", True),
        ("$['a'][0]", True),
        ("$.a[-1]", True),
        ("$.a[*]", False),
        ("$..a", False),
        ("$.a[0:1]", False),
        ("$.a[0,1]", False),
        ("$.a[?@.b]", False),
        ("$.a.*", False),
    ],
)
def test_is_singular(path: str, singular: bool) -> None:
    assert is_singular(path) is singular


def test_text_document_is_not_reparsed_as_json() -> None:
    """A text body stays text: only '$' selects it, and JSON-looking text is not decoded."""
    assert find_all("plain text", "$") == ["plain text"]
    assert find_all('{"a": 1}', "$.a") == []
    assert find_one('{"a": 1}', "$") == '{"a": 1}'
    with pytest.raises(NoMatch):
        find_one("text", "$.a")


def test_scalar_and_list_documents() -> None:
    assert find_all(5, "$") == [5]
    assert find_all(5, "$.a") == []
    assert find_all([{"id": 1}, {"id": 2}], "$[*].id") == [1, 2]
    assert find_all([{"id": 1}, {"id": 2}], "$[?@.id > 1]") == [{"id": 2}]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "0", "x y"]), children, max_size=3)
    ),
    max_leaves=12,
)
STEPS = st.lists(st.sampled_from(["a", "b", "0", "x y"]) | st.integers(-4, 4), max_size=4)


def _path(steps: list[str | int]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f"['{s}']" for s in steps)


@given(document=JSON_VALUES, steps=STEPS)
def test_singular_fast_path_agrees_with_the_library(document: Any, steps: list[str | int]) -> None:
    assume(not isinstance(document, str))  # the library would parse a text document as JSON
    path = _path(steps)
    assert is_singular(path)
    assert find_all(document, path) == compile_path(path).findall(document)


@given(document=JSON_VALUES)
def test_general_paths_agree_with_the_library(document: Any) -> None:
    assume(not isinstance(document, str))
    for path in ("$..a", "$[*]", "$.a[0:2]", "$[?@.a]"):
        assert find_all(document, path) == compile_path(path).findall(document)
