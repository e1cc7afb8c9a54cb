"""decode_json reads a body orjson wrote, or Go's encoding/json, with orjson alone: whatever the body,
it answers exactly what the strict parser answers (the same value, or the same refusal)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook.server.refusal import Refusal
from webhook.server.review import _NOT_CANONICAL, _decode_strictly, _read_canonical, decode_json

TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from('<>&\u2028\u2029"\\\n/'), max_size=6)
NUMBERS = st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)
OBJECTS = st.dictionaries(TEXT, VALUES, min_size=1, max_size=4)


def go_encoding(value: Any) -> bytes:
    """As Go's encoding/json writes it: compact, HTML characters and line separators escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text.encode() + b"\n"


def answer(decode: Any, body: bytes) -> tuple[str, Any]:
    try:
        return "value", decode(body)
    except Refusal as refusal:
        return "refused", refusal.message


def assert_same_answer(body: bytes) -> None:
    fast, strict = answer(decode_json, body), answer(_decode_strictly, body)
    assert fast == strict
    if fast[0] == "value":  # equal as values, and of the same types (1 is not 1.0)
        assert repr(fast[1]) == repr(strict[1])


@given(VALUES)
def test_orjson_and_go_encodings_read_as_the_strict_parser_reads_them(value: Any) -> None:
    for body in (orjson.dumps(value) if _encodable(value) else b"null", go_encoding(value)):
        assert_same_answer(body)


@given(OBJECTS, st.data())
def test_a_duplicate_key_is_refused_whatever_the_encoding(value: dict[str, Any], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(value)))
    again = json.dumps({key: data.draw(VALUES)}, separators=(",", ":"))[1:-1]
    for body in (go_encoding(value), json.dumps(value).encode()):
        twice = b"{" + again.encode() + b"," + body[1:]
        assert answer(decode_json, twice) == (
            "refused",
            f"request body is not valid JSON: duplicate key {key!r}",
        )


@pytest.mark.parametrize(
    "body",
    [
        b'{"n":' + b"9" * 30 + b"}",  # orjson reads a float
        b'{"a":1E5,"b":1.50}',
        b'{"a":"\\u00e9\\/"}',
        b' {"a":1}',
        b"[" * 300 + b"]" * 300,  # deeper than orjson encodes
        b"[" * 5000 + b"]" * 5000,
        b'{"a":"\\ud800"}',
        b'{"a":NaN}',
        b'{"a":1e400}',
        b"\xef\xbb\xbf{}",
    ],
)
def test_bodies_orjson_does_not_write_go_to_the_strict_parser(body: bytes) -> None:
    assert _read_canonical(body) is _NOT_CANONICAL
    assert_same_answer(body)


def test_kube_apiserver_bodies_are_read_by_orjson_alone() -> None:
    pod = {"metadata": {"name": "a&b"}, "spec": {"containers": [{"name": "c", "args": ["x && y > z"]}]}}
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"object": pod}}
    assert _read_canonical(go_encoding(review)) == review
    assert _read_canonical(orjson.dumps(review)) == review


def _encodable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except orjson.JSONEncodeError:
        return False
    return True
