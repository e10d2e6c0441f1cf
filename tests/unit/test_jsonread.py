"""The one JSON reader: limits that turn hostile JSON into a refusal instead of a crash."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tenure.domain.jsonread import (
    MAX_DEPTH,
    JsonRejected,
    check_tree,
    read_json,
    read_json_object,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_up_to_the_limit_is_read() -> None:
    value: Any = read_json(nested(MAX_DEPTH))
    for _ in range(MAX_DEPTH - 1):
        value = value[0]
    assert value == []
    assert read_json_object('{"a": ' + nested(MAX_DEPTH - 1) + "}")["a"]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 100_000])
def test_deeper_nesting_is_refused_without_recursing(depth: int) -> None:
    with pytest.raises(JsonRejected, match="nesting"):
        read_json(nested(depth))
    with pytest.raises(JsonRejected, match="nesting"):
        read_json('{"a": ' + "{\"b\": " * depth + "1" + "}" * depth + "}")


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"message": "[[[{{{" * 100 + '\\"]]]', "list": [[1]]})
    assert read_json(text) == json.loads(text)


@pytest.mark.parametrize("number", ["1" * 4300, "1" * 5000, "-" + "9" * 21, "1" * 21])
def test_numbers_with_too_many_digits_are_refused(number: str) -> None:
    with pytest.raises(JsonRejected, match="digits"):
        read_json('{"n": ' + number + "}")


@pytest.mark.parametrize("number", [0, -1, 1763700000, 2**63 - 1, -(2**63), 2**64 - 1,
                                    10**20 - 1])
def test_integers_of_up_to_20_digits_are_read(number: int) -> None:
    assert read_json(json.dumps([number])) == [number]


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400",
                                  "1." + "0" * 30])
def test_non_finite_or_overlong_floats_are_refused(text: str) -> None:
    with pytest.raises(JsonRejected):
        read_json("[" + text + "]")


def test_ordinary_floats_are_read() -> None:
    assert read_json("[1.5, -0.25, 6.02e23, 1e-300]") == [1.5, -0.25, 6.02e23, 1e-300]


@pytest.mark.parametrize("data", [b"\xff\xfe{}", b'{"a": "\xc3"}', b'{"a": 1', b"",
                                  "\ufeff{}".encode()])
def test_invalid_json_or_utf8_is_refused(data: bytes) -> None:
    with pytest.raises(JsonRejected):
        read_json(data)


@pytest.mark.parametrize("data", ["[]", "1", '"x"', "null"])
def test_an_object_is_required_where_asked(data: str) -> None:
    assert read_json(data) == json.loads(data)
    with pytest.raises(JsonRejected, match="object"):
        read_json_object(data)


def test_rejections_are_value_errors() -> None:
    assert issubclass(JsonRejected, ValueError)


def test_check_tree_applies_the_same_limits_to_other_documents() -> None:
    check_tree({"a": [1, 2.5, True, "x", {"b": 2**63 - 1}]})
    deep: Any = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(JsonRejected, match="nesting"):
        check_tree({"a": deep})
    very_deep: Any = {}
    for _ in range(100_000):  # iterative: no RecursionError either
        very_deep = {"x": very_deep}
    with pytest.raises(JsonRejected):
        check_tree(very_deep)
    with pytest.raises(JsonRejected, match="digits"):
        check_tree({"a": 10**30})
    with pytest.raises(JsonRejected, match="finite"):
        check_tree({"a": float("inf")})
