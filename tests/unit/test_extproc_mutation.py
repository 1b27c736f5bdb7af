"""The ext_proc answers' header mutations are assembled from cached protobuf bytes (a cost issue 22 cut):
they must be exactly what the message objects would build, including for values that need escaping,
long values that are not cached, and removals of headers that are also set."""

from __future__ import annotations

from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

from semrouter.adapters import extproc


def reference(headers: dict[str, str], remove: list[str]) -> pb.HeaderMutation:
    return pb.HeaderMutation(
        set_headers=[extproc._header(k, v) for k, v in headers.items()],
        remove_headers=[k for k in remove if k not in headers],
    )


def test_mutation_bytes_match_the_message_objects() -> None:
    headers = {
        "x-request-id": "a" * 300,  # longer than what is cached; and a length needing a 2-byte varint
        "x-vsr-selected-model": "qwen3-8b",
        "x-vsr-tools-selected": "get_weather,météo\r\nx-injected: 1",  # percent-encoded by header_value
        "content-length": "12",
    }
    remove = ["x-vsr-forged", "content-length", "authorization"]
    for _ in range(2):  # the second time from the cache
        assert extproc._mutation(headers, remove) == reference(headers, remove)
    assert extproc._mutation({}, []) == pb.HeaderMutation()
    kept = extproc._FIELDS[extproc._set_entry]
    assert ("x-request-id", "a" * 300) not in kept
    assert ("x-vsr-selected-model", "qwen3-8b") in kept


def test_the_cache_stays_bounded() -> None:
    for i in range(5000):
        extproc._mutation({"x-request-id": f"id-{i}"})
    assert len(extproc._FIELDS[extproc._set_entry]) <= 4096
    assert len(extproc._BLOCKS) <= 1024


def test_a_request_id_is_built_each_time_and_never_kept() -> None:
    """The request id is new on every request: kept, it would only push the repeating headers out."""
    extproc._BLOCKS.clear()
    extproc._FIELDS.clear()
    shown = {"x-vsr-selected-model": "qwen3-8b", "x-vsr-selected-decision": "math"}
    for i in range(3):
        headers = {"x-request-id": f"req-{i}", **shown}
        got = pb.HeaderMutation.FromString(extproc._mutation_bytes(headers, ["x-vsr-forged"], "x-request-id"))
        assert got == reference(headers, ["x-vsr-forged"])
        meta = pb.ProcessingResponse.FromString(extproc._metadata(headers, "x-request-id")).dynamic_metadata
        assert dict(meta.fields["semrouter"].struct_value) == headers
    assert len(extproc._BLOCKS) == 2  # one block per kind (mutation, metadata): the same for every request id
    assert not any(name == "x-request-id" for name, _ in extproc._FIELDS[extproc._meta_entry])


def test_the_metadata_template_fits_every_request_id() -> None:
    """The metadata is kept as the bytes around the request id: ids of other lengths (across the one- and
    two-byte length boundary), non-ASCII ids and an empty one must still give exactly the Struct Envoy reads."""
    extproc._META_HEADS.clear()
    shown = {"x-vsr-selected-model": "qwen3-8b", "x-vsr-selected-decision": "math"}
    for rid in ["a", "b" * 36, "c" * 36, "d" * 100, "e" * 127, "f" * 128, "g" * 300, "é" * 70, ""]:
        headers = {"x-request-id": rid, **shown}
        for _ in range(2):  # built, then from the template
            meta = pb.ProcessingResponse.FromString(extproc._metadata(headers, "x-request-id")).dynamic_metadata
            assert dict(meta.fields["semrouter"].struct_value) == headers, rid
    assert len(extproc._META_HEADS) == 8  # one per length: the two 36-character ids share one
