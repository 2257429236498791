"""The review cache forgets answers when they expire and stays bounded; token buckets allow a burst,
refill at their rate and say how long to wait (kubetask.api.auth_limits: pure, time passed in)."""

from __future__ import annotations

import pytest

from kubetask.api.auth_limits import BURST_SECONDS, Buckets, TokenBucket, TtlCache, retry_after


def test_a_cached_answer_lives_exactly_its_ttl() -> None:
    cache: TtlCache[str, bool] = TtlCache()
    cache.put("k", True, ttl=10, now=100.0)
    assert cache.get("k", now=109.9) is True
    assert cache.get("k", now=110.0) is None
    assert cache.get("k", now=100.0) is None  # gone once expired, not revived


def test_a_ttl_of_zero_caches_nothing() -> None:
    cache: TtlCache[str, bool] = TtlCache()
    cache.put("k", False, ttl=0, now=0.0)
    assert cache.get("k", now=0.0) is None
    assert len(cache) == 0


def test_a_false_answer_is_cached_as_false_not_as_missing() -> None:
    cache: TtlCache[str, bool] = TtlCache()
    cache.put("denied", False, ttl=5, now=0.0)
    assert cache.get("denied", now=1.0) is False


def test_the_cache_drops_expired_entries_then_the_oldest_past_its_size() -> None:
    cache: TtlCache[int, int] = TtlCache(max_entries=100)
    for i in range(100):
        cache.put(i, i, ttl=1, now=0.0)
    for i in range(100, 150):  # the first hundred have expired by now
        cache.put(i, i, ttl=60, now=10.0)
    assert len(cache) == 50
    for i in range(150, 300):  # none expired: the oldest go
        cache.put(i, i, ttl=60, now=11.0)
    assert len(cache) == 100
    assert cache.get(299, now=11.0) == 299
    assert cache.get(100, now=11.0) is None


def test_a_bucket_allows_its_burst_then_one_per_refill() -> None:
    bucket = TokenBucket.full(2.0, now=0.0)
    assert bucket.capacity == 2.0 * BURST_SECONDS
    assert [bucket.take(now=0.0) for _ in range(10)] == [0.0] * 10
    assert bucket.take(now=0.0) == pytest.approx(0.5)  # the next token in 1/rate seconds
    assert bucket.take(now=0.5) == 0.0
    assert bucket.take(now=0.5) == pytest.approx(0.5)


def test_a_bucket_never_holds_more_than_its_capacity() -> None:
    bucket = TokenBucket.full(1.0, now=0.0)
    for _ in range(int(bucket.capacity)):
        bucket.take(now=0.0)
    assert bucket.is_full(now=1000.0)
    taken = 0
    while bucket.take(now=1000.0) == 0.0:
        taken += 1
    assert taken == bucket.capacity


def test_a_slow_rate_still_allows_one_review() -> None:
    assert TokenBucket.full(0.01, now=0.0).take(now=0.0) == 0.0


def test_buckets_are_per_key_and_a_full_one_is_forgotten_when_they_grow() -> None:
    buckets: Buckets[str] = Buckets(1.0, max_entries=10)
    for _ in range(BURST_SECONDS):
        assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) > 0
    assert buckets.take("b", now=0.0) == 0.0  # another key has its own bucket
    for i in range(20):  # "a" refilled by t=100: forgetting it changes nothing
        buckets.take(f"k{i}", now=100.0)
    assert len(buckets) <= 10


def test_a_flood_of_keys_takes_from_the_shared_bucket_only_its_capacity_at_once() -> None:
    total: Buckets[None] = Buckets(3.0)
    allowed = sum(1 for _ in range(1000) if total.take(None, now=0.0) == 0.0)
    assert allowed == 3 * BURST_SECONDS
    allowed_later = sum(1 for _ in range(1000) if total.take(None, now=2.0) == 0.0)
    assert allowed_later == 6  # 2 s at 3 per second


@pytest.mark.parametrize(("seconds", "header"), [(0.0, 1), (0.01, 1), (1.0, 1), (1.2, 2), (7.0, 7)])
def test_retry_after_is_whole_seconds_and_at_least_one(seconds: float, header: int) -> None:
    assert retry_after(seconds) == header
