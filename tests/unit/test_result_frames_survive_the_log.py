"""The frame format of large results and progress: round trip through a log, damage, interleaving."""

from __future__ import annotations

import json
import random

import pytest

from kubetask.executor.frames import (
    CHUNK_BYTES,
    MARKER,
    MAX_LINE,
    FrameReader,
    FramesMissing,
    Progress,
    digest,
    progress_line,
    result_lines,
)


def _payload(n: int) -> bytes:
    rng = random.Random(n)
    return json.dumps({"rows": ["".join(rng.choice('abcdé€\n"') for _ in range(40)) for _ in range(n // 50)]}).encode()


def _read(log: bytes, *, chunk: int = 65536, max_bytes: int = 2 << 20) -> tuple[FrameReader, bytes]:
    reader = FrameReader(max_bytes)
    out = b"".join(reader.feed(log[i : i + chunk]) for i in range(0, len(log), chunk)) + reader.finish()
    return reader, out


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65536])
def test_a_600_kib_result_round_trips_exactly_and_leaves_the_output_alone(chunk: int) -> None:
    payload = _payload(600 * 1024)
    lines = result_lines(payload)
    log = b"starting\n" + b"".join(lines) + b"done\n"
    reader, out = _read(log, chunk=chunk if chunk > 1 else 997)
    assert out == b"starting\ndone\n"
    assert reader.result(digest(payload), len(payload)) == payload
    assert reader.frames == len(lines) == -(-len(payload) // CHUNK_BYTES)


def test_every_frame_line_is_short_enough_to_be_written_atomically() -> None:
    lines = result_lines(_payload(100 * 1024))
    assert all(len(line) <= MAX_LINE and line.endswith(b"\n") for line in lines)
    assert len(progress_line(Progress(1, 2, "x" * 10_000))) <= MAX_LINE


def test_an_empty_result_is_one_frame() -> None:
    reader, out = _read(b"".join(result_lines(b"")))
    assert out == b"" and reader.result(digest(b""), 0) == b""


def test_user_output_interleaved_between_frames_and_before_a_marker_is_kept() -> None:
    payload = _payload(20_000)
    lines = result_lines(payload)
    log = b"partial line without newline" + lines[0] + b"middle\n" + b"".join(lines[1:]) + b"last, no newline"
    reader, out = _read(log, chunk=10)
    assert out == b"partial line without newline\nmiddle\nlast, no newline"
    assert reader.result(digest(payload), len(payload)) == payload


def test_a_missing_chunk_is_named() -> None:
    payload = _payload(20_000)
    lines = result_lines(payload)
    reader, _ = _read(b"".join(lines[:2] + lines[3:]))
    with pytest.raises(FramesMissing, match=r"1 of the result's \d+ frames are missing .*\(3\)"):
        reader.result(digest(payload), len(payload))


def test_no_frames_at_all_is_said() -> None:
    reader, out = _read(b"just output\n")
    assert out == b"just output\n"
    with pytest.raises(FramesMissing, match="no frame of the result"):
        reader.result("0" * 64, 10)


def test_a_corrupt_chunk_fails_the_sha256_check() -> None:
    payload = _payload(20_000)
    lines = result_lines(payload)
    head, _, body = lines[1].rpartition(b" ")
    flipped = bytearray(body)
    flipped[10] = ord("A") if flipped[10] != ord("A") else ord("B")
    reader, _ = _read(b"".join([lines[0], head + b" " + bytes(flipped), *lines[2:]]))
    with pytest.raises(FramesMissing, match="do not match its sha256"):
        reader.result(digest(payload), len(payload))


def test_a_size_other_than_the_reports_is_refused() -> None:
    payload = _payload(5000)
    reader, _ = _read(b"".join(result_lines(payload)))
    with pytest.raises(FramesMissing, match="its report says"):
        reader.result(digest(payload), len(payload) + 1)


def test_frames_of_another_result_are_ignored() -> None:
    mine, other = _payload(9000), _payload(7000)
    reader, _ = _read(b"".join(result_lines(other) + result_lines(mine)))
    assert reader.result(digest(mine), len(mine)) == mine


def test_frames_over_the_limit_are_dropped_and_said() -> None:
    payload = _payload(20_000)
    reader, _ = _read(b"".join(result_lines(payload)), max_bytes=10_000)
    assert reader.overflow
    with pytest.raises(FramesMissing):
        reader.result(digest(payload), len(payload))


@pytest.mark.parametrize(
    "line",
    [
        MARKER + b"result nothex 1/1 AAAA\n",
        MARKER + b"result " + b"a" * 64 + b" 2/1 AAAA\n",
        MARKER + b"result " + b"a" * 64 + b" 1/1 not*base64\n",
        MARKER + b"progress [1, 2]\n",
        MARKER + b"progress {broken\n",
        MARKER + b"hello\n",
    ],
)
def test_a_line_that_only_looks_like_a_frame_is_output(line: bytes) -> None:
    reader, out = _read(b"before\n" + line)
    assert out == b"before\n" + line and reader.frames == 0


def test_the_last_progress_wins_and_is_taken_out_of_the_output() -> None:
    last = Progress(7, 10, "seven", "2026-12-02T20:00:00Z")
    log = progress_line(Progress(1, 10, "one")) + b"work\n" + progress_line(last)
    reader, out = _read(log, chunk=5)
    assert out == b"work\n"
    assert reader.progress == Progress(7, 10, "seven", "2026-12-02T20:00:00Z")


def test_a_very_long_user_line_passes_through_in_bounded_memory() -> None:
    long = b"x" * (300 * 1024)
    payload = _payload(4000)
    reader, out = _read(long + b"".join(result_lines(payload)) + b"\n", chunk=4096)
    assert out == long + b"\n\n"
    assert reader.result(digest(payload), len(payload)) == payload
