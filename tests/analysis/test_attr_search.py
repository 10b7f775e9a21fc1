"""Search by name or attribute value: the raw-bytes matcher agrees with decoding every row."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tracefiles import span_row, spans

from tracer.analysis import load
from tracer.analysis.attrs import AttrStore
from tracer.analysis.search import Query, matching_refs, parse_query, search


def store_of(batches: list[bytes], rows: list[int]) -> AttrStore:
    store = AttrStore()
    for k, (raw, n) in enumerate(zip(batches, rows, strict=True)):
        store.add(raw, n, k + 1, 0)
    store.seal()
    return store


def holds(value: Any, text: str) -> bool:
    """The reference: ``text`` in a string, number or literal anywhere in ``value`` (never in a key)."""
    if isinstance(value, dict):
        return any(holds(v, text) for v in value.values())
    if isinstance(value, list):
        return any(holds(v, text) for v in value)
    if isinstance(value, str):
        return text in value.lower()
    return text in json.dumps(value)


def reference(items: list[Any], query: Query) -> list[int]:
    out = []
    for ref, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        if query.key is None:
            hit = holds(item, query.text)
        else:
            hit = query.key in item and (not query.text or holds(item[query.key], query.text))
        if hit:
            out.append(ref)
    return out


def test_parse_query_tells_plain_text_from_key_equals_value():
    """``key=value`` names one attribute; anything else is text to find anywhere; blank is nothing."""
    assert parse_query("  5F8D2A64 ") == Query("5f8d2a64")
    assert parse_query("instance_uuid=5F8D") == Query("5f8d", "instance_uuid")
    assert parse_query("migration_id=") == Query("", "migration_id")
    assert parse_query("a b=c") == Query("a b=c")  # not a key: plain text
    assert parse_query("   ") is None


def test_values_match_and_keys_do_not():
    """A key that holds the text is not a match; a value (string, list item, nested, number) is."""
    items = [{"instance_uuid": "abc-1"}, {"abc": 1}, {"l": ["x", "ABC"]}, {"n": {"deep": "zabc"}}, None, {"k": 123}]
    store = store_of([orjson.dumps(items)], [len(items)])
    assert matching_refs(store, Query("abc")).tolist() == [0, 2, 3]
    assert matching_refs(store, Query("23")).tolist() == [5]
    assert matching_refs(store, Query("null")).tolist() == []  # a null row is not a value of anything


def test_key_equals_value_checks_that_attribute_only():
    """``k=v`` matches rows whose attribute k holds v, not those holding v under another key."""
    items = [{"a": "x1", "b": "y"}, {"a": "y", "b": "x1"}, {"a": ["q", "x1"]}, {"c": 1}]
    store = store_of([orjson.dumps(items)], [len(items)])
    assert matching_refs(store, Query("x1", "a")).tolist() == [0, 2]
    assert matching_refs(store, Query("", "b")).tolist() == [0, 1]
    assert matching_refs(store, Query("", "zz")).tolist() == []


def test_escaped_quotes_colons_and_spacing_do_not_confuse_the_scanner():
    """Quotes and backslashes inside strings, key-like text in values, and JSON written with spaces."""
    items = [{"s": 'say "key": x'}, {'we"ird': "v\\"}, {"t": "a:b", "u": ["c", {"d": "key"}]}, {"key": 0}]
    spaced = json.dumps(items, indent=2).encode()
    compact = orjson.dumps(items)
    for raw in (spaced, compact):
        store = store_of([raw], [len(items)])
        for text in ("key", "say", "v\\", "a:b", "we", '"', "0"):
            assert matching_refs(store, Query(text.lower())).tolist() == reference(items, Query(text.lower())), (raw, text)


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                      st.text(alphabet=st.sampled_from('ab1:,"\\{}[] é'), max_size=6))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(alphabet="abk:\"", max_size=3), inner, max_size=3)), max_leaves=8)
row = st.one_of(st.none(), st.dictionaries(st.text(alphabet='abk1:"', max_size=4), json_value, max_size=4))


@settings(max_examples=150, deadline=None)
@given(batches=st.lists(st.lists(row, min_size=1, max_size=6), min_size=1, max_size=4),
       text=st.text(alphabet='ab1k:"\\{', min_size=1, max_size=3), key=st.one_of(st.none(), st.sampled_from("abk")),
       spaced=st.booleans())
def test_bytes_matcher_agrees_with_decoding_every_row(batches, text, key, spaced):
    """Whatever the attributes hold, the raw-bytes search finds exactly the rows a decoding search finds."""
    raws = [json.dumps(b, indent=1 if spaced else None, ensure_ascii=False).encode() for b in batches]
    store = store_of(raws, [len(b) for b in batches])
    items = [item for b in batches for item in b]
    query = Query(text.lower(), key)
    assert matching_refs(store, query).tolist() == reference(items, query)


def test_search_finds_names_and_attributes_of_spans_and_marks(write_trace):
    """Names match case-insensitively; attribute hits reach spans and marks through their refs."""
    path = write_trace([
        spans(span_row(1, 0, 1, 0, 10, "db.Instance.save"), span_row(2, 0, 1, 20, 30, "other"),
              span_row(3, 0, 1, 40, 50, "third"),
              attrs=[{"instance_uuid": "5f8d"}, None, {"instance_uuids": ["x", "5F8D-upper"]}]),
        {"type": "marks", "rows": [[1, 1_000_000_000_000 + 25, "service.down", "", 0]], "attrs": [{"uuid": "5f8d"}]},
    ])
    trace, _ = load(path)
    names = [trace.span_name(i) for i in range(len(trace.spans))]
    hits = search(trace, "5F8D")
    assert [names[i] for i in hits.spans] == ["db.Instance.save", "third"] and hits.marks.tolist() == [0]
    assert [names[i] for i in search(trace, "INSTANCE.save").spans] == ["db.Instance.save"]
    assert [names[i] for i in search(trace, "instance_uuid=5f8d").spans] == ["db.Instance.save"]
    assert len(search(trace, "  ")) == 0


def test_search_on_the_buggy_sample_matches_a_decoding_search(buggy_trace):
    """On a real trace, every query gives the rows a plain decode-and-compare loop gives."""
    trace = buggy_trace
    attrs = trace.attrs_many(np.arange(len(trace.spans)))
    for text in ("5f8d2a64", "host2", "0000:81:00.1", "migration_id=7", "status=done", "instance_uuids=", "7"):
        q = parse_query(text)
        expected = reference(attrs, q)
        if q.key is None:
            expected = sorted(set(expected) | {i for i in range(len(trace.spans)) if q.text in trace.span_name(i).lower()})
        assert search(trace, text).spans.tolist() == expected, text


@pytest.fixture
def buggy_trace():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "sample_traces" / "nova-1896463-buggy.jsonl"
    return load(str(path)).trace
