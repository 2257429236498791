"""Bounded memory for the API's reviews: a TTL cache of answers and token buckets that ration them.

Pure: every call takes `now` (monotonic seconds) from its caller; no clock, no I/O. The adapter
(`auth_reviews`) keeps one `TtlCache` of TokenReview answers keyed by a SHA-256 of the token, one of
SubjectAccessReview answers keyed by (identity, namespace, verb, resource), and `Buckets` per token
hash plus one bucket for all reviews together.

Why both buckets: a cache only helps a token seen before. A flood of distinct garbage tokens (or
one valid token asking about ever new namespaces) misses it every time, and each miss would cost
the apiserver a review; the per-token bucket stops one caller, the total bucket stops many. A
bucket holds `rate * BURST_SECONDS` reviews and refills at `rate` per second, so a quiet caller
may spend a few seconds' worth at once (a dashboard page asks several things in parallel).

Memory: both structures forget what no longer matters (an expired answer, a bucket that has
refilled to full is the same as no bucket) whenever they have grown past `max_entries`, and drop
the oldest entries beyond that, so a flood of distinct keys costs bounded memory.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

BURST_SECONDS = 5  # a bucket holds this many seconds' worth of reviews
MAX_ENTRIES = 10_000  # per cache or bucket set, before expired or full entries are swept


class TtlCache(Generic[K, V]):
    """Answers that expire: each entry keeps the instant it stops being valid. Thread-safe."""

    def __init__(self, *, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: K, *, now: float) -> V | None:
        """The cached answer, or None when there is none or it expired."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= now:
                del self._entries[key]
                return None
            return found[1]

    def put(self, key: K, value: V, *, ttl: float, now: float) -> None:
        """Keep `value` for `ttl` seconds (a ttl of 0 or less keeps nothing)."""
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (now + ttl, value)
            self._entries.move_to_end(key)
            if len(self._entries) > self._max:
                self._sweep(now)

    def _sweep(self, now: float) -> None:
        for key in [k for k, (until, _) in self._entries.items() if until <= now]:
            del self._entries[key]
        while len(self._entries) > self._max:  # all still valid: the oldest go first
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second; a review takes one."""

    rate: float
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, *, now: float) -> TokenBucket:
        capacity = max(1.0, rate * BURST_SECONDS)
        return cls(rate=rate, capacity=capacity, tokens=capacity, updated=now)

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, *, now: float) -> float:
        """Take a token: 0.0 when one was there, else the seconds until one will be (nothing taken)."""
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def is_full(self, *, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class Buckets(Generic[K]):
    """One `TokenBucket` per key, made full on first use. Thread-safe."""

    def __init__(self, rate: float, *, max_entries: int = MAX_ENTRIES) -> None:
        self.rate = rate
        self._buckets: OrderedDict[K, TokenBucket] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def take(self, key: K, *, now: float) -> float:
        """As `TokenBucket.take`, from `key`'s bucket."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max:
                    self._sweep(now)
                bucket = self._buckets[key] = TokenBucket.full(self.rate, now=now)
            self._buckets.move_to_end(key)
            return bucket.take(now=now)

    def _sweep(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.is_full(now=now)]:
            del self._buckets[key]
        while len(self._buckets) >= self._max:  # room for one more; forgetting a bucket only refills it
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(seconds: float) -> int:
    """A wait as `Retry-After` says it: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))
