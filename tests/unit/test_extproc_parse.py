"""The request headers' memo (a cost issue 22 cut): whatever Envoy sends, it must parse to exactly what
the protobuf message gives, including the request id it cuts out of the key, a second header of that
name, a value too long for the memo, no request id at all, and a headers-only request."""

from __future__ import annotations

import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

from semrouter.adapters import extproc

BASE = [
    (":authority", "gw.example:8080"),
    (":path", "/v1/chat/completions"),
    (":method", "POST"),
    (":scheme", "http"),
    ("content-type", "application/json"),
    ("content-length", "112"),
    ("x-forwarded-proto", "http"),
]


def message(headers: list[tuple[str, str]], end: bool = False) -> bytes:
    values = [base_pb2.HeaderValue(key=k, raw_value=v.encode("latin-1")) for k, v in headers]
    hm = base_pb2.HeaderMap(headers=values)
    return pb.ProcessingRequest(request_headers=pb.HttpHeaders(headers=hm, end_of_stream=end)).SerializeToString()


def reference(data: bytes) -> extproc.Parsed:
    msg = pb.ProcessingRequest.FromString(data).request_headers
    headers, pseudo = extproc._header_map(msg)
    return headers, pseudo, msg.end_of_stream


@pytest.mark.parametrize(
    "extra",
    [
        [("x-request-id", "5d1f0c1e-0b7a-4f8e-9a57-2f0c1d7e9b11")],
        [("x-request-id", "a")],
        [("x-request-id", "r" * 127)],
        [("x-request-id", "r" * 200)],  # a two-byte length: parsed each time
        [("x-request-id", "first"), ("x-request-id", "second")],  # twice: the last wins, as in the dict
        [],  # no request id: the whole message is the key
        [("x-request-id", ""), ("authorization", "Bearer sk-test")],
        [("x-trace", "x-request-id"), ("x-request-id", "after a value that names it")],
    ],
)
def test_the_memo_parses_like_protobuf(extra: list[tuple[str, str]]) -> None:
    extproc._PARSED.clear()
    for end in (False, True):
        data = message(BASE + extra, end)
        for _ in range(3):  # a miss, then hits
            assert extproc.parse_request_headers(data, "x-request-id") == reference(data)


def test_each_request_gets_its_own_id_and_its_own_dict() -> None:
    extproc._PARSED.clear()
    first = extproc.parse_request_headers(message([*BASE, ("x-request-id", "id-1")]), "x-request-id")
    second = extproc.parse_request_headers(message([*BASE, ("x-request-id", "id-2")]), "x-request-id")
    assert first is not None and second is not None
    assert first[0]["x-request-id"] == "id-1" and second[0]["x-request-id"] == "id-2"
    assert len(extproc._PARSED) == 1  # one key for both: the id is cut out of it
    first[0]["x-changed"] = "by a stage"  # a stage may change its request's dict; the memo's stays as it was
    third = extproc.parse_request_headers(message([*BASE, ("x-request-id", "id-3")]), "x-request-id")
    assert third is not None and "x-changed" not in third[0]


def test_a_renamed_request_id_header_is_the_one_cut_out() -> None:
    extproc._PARSED.clear()
    for i in range(3):
        data = message([*BASE, ("x-request-id", "envoy-id"), ("x-correlation-id", f"c-{i}")])
        assert extproc.parse_request_headers(data, "x-correlation-id") == reference(data)
    assert len(extproc._PARSED) == 1


def test_other_phases_are_not_parsed_here() -> None:
    body = pb.ProcessingRequest(request_body=pb.HttpBody(body=b"{}", end_of_stream=True)).SerializeToString()
    assert extproc.parse_request_headers(body, "x-request-id") is None


def test_the_memo_stays_bounded() -> None:
    extproc._PARSED.clear()
    for i in range(600):
        extproc.parse_request_headers(message([*BASE, ("x-tenant", f"t{i}")]), "x-request-id")
    assert len(extproc._PARSED) <= 256
