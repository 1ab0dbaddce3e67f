"""RFC 8785 (JCS) written by orjson where the two agree: the bytes
must be exactly the ``rfc8785`` package's for every JSON value, whichever path writes them,
or events sealed by one version would not verify against another's canonical form."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.envelope import (
    CANONICALIZATION,
    JCS,
    _same_in_json_module,
    envelope_bytes,
    jcs,
    signed_envelope_bytes,
)
from shared.signing import SigningKey

pytestmark = pytest.mark.domain

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # every code point, controls and beyond the BMP included
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def _library(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        return type(exc)


def _ours(value: Any) -> bytes | type[Exception]:
    try:
        return jcs(value)
    except rfc8785.CanonicalizationError as exc:
        return type(exc)


@settings(max_examples=1000, deadline=None)
@given(_values)
def test_any_json_value_is_written_as_the_library_writes_it(value: Any) -> None:
    assert _ours(value) == _library(value)


@pytest.mark.parametrize(
    "value",
    [
        {"z": 1, "a": 2, "B": 3, "_": 4, "aa": 5, "": 6},  # order of ASCII keys
        {"\ue000": 1, "\U0001f600": 2},  # UTF-16 order, not code points: the library's path
        {"text": '\x00\x08\x09\x0a\x0c\x0d\x1f\x7f"\\/\u2028\u2029é😀'},  # escapes
        {"n": [2**53 - 1, -(2**53) + 1, 0, -0]},
        {"n": 2**53},  # beyond the exact integers: refused either way
        {"f": [1.0, 1e21, 1e-7, 0.1, -0.0]},  # floats: the library's path
        {"lone": "\ud800"},  # not UTF-8: refused either way
        [True, False, None, [], {}],
    ],
)
def test_the_edges_of_the_subset(value: Any) -> None:
    assert _ours(value) == _library(value)


def test_an_envelope_takes_the_fast_path() -> None:
    envelope = {
        "specversion": "1.0",
        "id": "0b8f",
        "data": {"names": ["Aïcha", "Kọ́lá"], "age": 7, "note": "ligne\nsuivante", "x": None},
        "aggregateversion": 3,
    }
    assert _same_in_json_module(envelope)
    assert jcs(envelope) == rfc8785.dumps(envelope)


_KEY = SigningKey.generate()
# The envelope's own attribute names, and names either side of and around "signature".
_names = st.sampled_from(
    ["id", "source", "specversion", "type", "time", "prevhash", "s", "sig", "signaturd", "zz"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_names, _values, max_size=8), st.booleans())
def test_sealing_encodes_once_what_signing_then_encoding_gives(
    members: dict[str, Any], in_jcs: bool
) -> None:
    """The sealed bytes and signature are exactly those of signing the canonical form and
    then encoding the signed envelope: in either canonical form, with the signature first,
    last or between members, and refused alike where the library refuses a value."""
    envelope = {**members, CANONICALIZATION: JCS} if in_jcs else members
    spliced, twice = dict(envelope), dict(envelope)
    try:
        stored = signed_envelope_bytes(spliced, _KEY.sign_bytes)
    except rfc8785.CanonicalizationError as exc:
        with pytest.raises(type(exc)):
            _KEY.sign(twice)
        return
    twice["signature"] = _KEY.sign(twice)
    assert spliced == twice
    assert stored == envelope_bytes(twice)
