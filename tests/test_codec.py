"""The codec, tested with bytes alone: no sockets."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zcomet.core.codec import (
    MAX_HEADER_BYTES,
    PROTOCOL_VERSION,
    FrameDecoder,
    HeaderEncoder,
    decode_any_body,
)
from zcomet.errors import DecodeError, FrameTooLarge

HEADER = HeaderEncoder("0123456789abcdef").encode("ticket", "ab" * 8, 7, 1_700_000)


def test_header_is_a_msgpack_map_with_documented_keys() -> None:
    assert msgpack.unpackb(HEADER) == {
        "v": PROTOCOL_VERSION,
        "def": "ticket",
        "fp": "ab" * 8,
        "sid": "0123456789abcdef",
        "seq": 7,
        "ts": 1_700_000,
    }


def test_frames_decode_to_channel_header_and_raw_body() -> None:
    envelope = FrameDecoder().decode([b"help.desk\x00", HEADER, b"\x80"])
    assert envelope.channel == "help.desk"
    assert envelope.header.definition == "ticket"
    assert envelope.header.sequence == 7
    assert envelope.body == b"\x80"


def test_unknown_header_keys_are_ignored_for_forward_compatibility() -> None:
    header = msgpack.packb({**msgpack.unpackb(HEADER), "future": [1, 2]})
    envelope = FrameDecoder().decode([b"a\x00", header, b"\x80"])
    assert envelope.header.sender == "0123456789abcdef"


def _header(**changes: object) -> bytes:
    fields = msgpack.unpackb(HEADER)
    fields.update(changes)
    return msgpack.packb({k: v for k, v in fields.items() if v is not None})


@pytest.mark.parametrize(
    "frames",
    [
        [],
        [b"a\x00"],
        [b"a\x00", HEADER],
        [b"a\x00", HEADER, b"\x80", b""],
        [b"a\x00"] * 50,
        [b"a", HEADER, b"\x80"],
        [b"a..b\x00", HEADER, b"\x80"],
        [b"\xff\xfe\x00", HEADER, b"\x80"],
        [b"a\x00", b"\xc1", b"\x80"],
        [b"a\x00", b"\x93\x01\x02\x03", b"\x80"],
        [b"a\x00", HEADER[:-3], b"\x80"],
        [b"a\x00", _header(v=2), b"\x80"],
        [b"a\x00", _header(seq="seven"), b"\x80"],
        [b"a\x00", _header(sid=None), b"\x80"],
        [b"a\x00", msgpack.packb({1: 2}), b"\x80"],
    ],
)
def test_malformed_frames_raise_decode_error(frames: list[bytes]) -> None:
    with pytest.raises(DecodeError):
        FrameDecoder().decode(frames)


def test_oversized_frames_raise_frame_too_large_with_size_and_limit() -> None:
    with pytest.raises(FrameTooLarge) as caught:
        FrameDecoder(max_body=10).decode([b"a\x00", HEADER, b"x" * 11])
    assert (caught.value.size, caught.value.limit) == (11, 10)
    assert "11 bytes exceeds limit 10" in str(caught.value)
    with pytest.raises(FrameTooLarge):
        FrameDecoder().decode([b"a\x00", b"\x80" * (MAX_HEADER_BYTES + 1), b""])
    with pytest.raises(FrameTooLarge):
        FrameDecoder().decode([b"a" * 300 + b"\x00", HEADER, b""])


def test_schema_less_body_decoding_returns_natural_values() -> None:
    body = msgpack.packb({"a": [1, "x", b"\x00"]})
    assert decode_any_body(body) == {"a": [1, "x", b"\x00"]}


@pytest.mark.parametrize(
    "body",
    [b"", b"\xc1", b"\x81\x01\x02", b"\x80\x80", b"\x91" * 100_000 + b"\x80"],
)
def test_schema_less_decoding_refuses_bad_bodies(body: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_any_body(body)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=5))
def test_random_frames_only_ever_raise_decode_error(frames: list[bytes]) -> None:
    with contextlib.suppress(DecodeError):
        FrameDecoder().decode(frames)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=256))
def test_random_bodies_only_ever_raise_decode_error(body: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_any_body(body)
