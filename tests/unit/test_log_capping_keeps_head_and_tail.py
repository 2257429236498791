"""The capping rule of kept logs: the first and last bytes of any chunking, the total, and the marker."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kubetask.log_capture import LogCap, capped, cut_marker, joined, size_text


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


@given(
    data=st.binary(max_size=400),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    head=st.integers(min_value=0, max_value=60),
    tail=st.integers(min_value=0, max_value=60),
)
def test_any_chunking_keeps_the_first_and_last_bytes_and_counts_all(
    data: bytes, cuts: list[int], head: int, tail: int
) -> None:
    ascii_data = bytes(b % 128 for b in data)  # one byte per character, so slices compare as text
    got = capped(_split(ascii_data, cuts), head, tail)
    assert got.total_bytes == len(ascii_data)
    assert got.cut == (len(ascii_data) > head + tail)
    if got.cut:
        assert got.head == ascii_data[:head].decode()
        assert got.tail == ascii_data[len(ascii_data) - tail :].decode()
    else:
        assert got.head + got.tail == ascii_data.decode()


def test_a_log_within_the_caps_is_kept_whole_without_a_marker() -> None:
    got = capped([b"hello\n", b"world\n"], 4, 100)
    assert (got.head, got.tail, got.cut) == ("hell", "o\nworld\n", False)
    assert joined(got.head, got.tail, got.total_bytes, got.cut) == "hello\nworld\n"


def test_a_5_mib_log_keeps_64_kib_and_1_mib_with_the_marker_between() -> None:
    cap = LogCap()
    line = b"x" * 1023 + b"\n"
    for _ in range(5 * 1024):
        cap.feed(line)
    got = cap.result()
    assert (len(got.head), len(got.tail), got.total_bytes, got.cut) == (65536, 1048576, 5 * 1024 * 1024, True)
    text = joined(got.head, got.tail, got.total_bytes, got.cut)
    assert "\n[kubetask: 3.9 MiB cut here; the log was 5.0 MiB]\n" in text


def test_bytes_that_are_not_utf8_are_replaced_not_refused() -> None:
    got = capped([b"ok \xff\xfe end"], 100, 100)
    assert got.head == "ok \ufffd\ufffd end"


def test_sizes_read_as_bytes_kib_and_mib() -> None:
    assert [size_text(n) for n in (0, 1023, 1024, 1536, 1024**2, 5 * 1024**2)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "1.5 KiB",
        "1.0 MiB",
        "5.0 MiB",
    ]
    assert cut_marker(10, 2048) == "\n[kubetask: 10 B cut here; the log was 2.0 KiB]\n"


def test_the_kubelets_container_gone_line_at_the_end_is_not_kept_as_output() -> None:
    gone = b"rpc error: code = NotFound desc = an error occurred when try to find container 'ab': not found"
    cap = LogCap(200, 200)
    cap.feed(b"started\n" + gone)
    assert cap.drop_kubelet_error()
    assert (cap.result().head, cap.result().total_bytes) == ("started\n", 8)
    in_tail = LogCap(4, 200)
    in_tail.feed(b"started\n" + gone + b"\n")
    assert in_tail.drop_kubelet_error()
    assert (in_tail.result().head + in_tail.result().tail, in_tail.result().total_bytes) == ("started\n", 8)
    only = LogCap(100, 100)
    only.feed(b"unable to retrieve container logs for containerd://0123")
    assert only.drop_kubelet_error() and only.result().total_bytes == 0


def test_a_last_line_of_the_containers_own_is_kept() -> None:
    cap = LogCap(4, 100)
    cap.feed(b"head and then\nthe end\n")
    assert not cap.drop_kubelet_error()
    assert cap.result().tail == " and then\nthe end\n"
