"""Who is calling, and may they call now: a per-worker cache of tokens and grants, and rate limits.

Looking a token and its grants up in the store on every request cost more than the page query
itself, so each worker keeps what it found for `ttl` seconds: a token revoked (or a grant
changed) by another process stops working within that bound; a change made in this process
(`munihub.gateway.grants`) empties the cache at once.  Rate limits are token buckets per
agency, in Redis when `MUNIHUB_GATEWAY_REDIS_URL` is set, so that every worker draws from one
bucket, else in this process.
"""
from __future__ import annotations

import hmac
import logging
import threading
import time
from typing import Any, Callable

from munihub.gateway import grants

log = logging.getLogger("munihub.gateway.access")
__all__ = ["AccessCache", "RateLimiter", "RedisRateLimiter", "rate_limiter"]


class AccessCache:
    """token -> (Agency, grants), kept at most `ttl` seconds per worker.

    Entries are found by a prefix of the token's hash and then the whole hash is compared in
    constant time (`hmac.compare_digest`), so a lookup's timing says nothing about how close a
    guessed token came.  Failed lookups are not cached: an unknown token always reaches the store.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000):
        self.ttl, self.clock, self.max_entries = ttl, clock, max_entries
        self._entries: dict[str, tuple[str, float, int, Any]] = {}
        self._renewing: set[str] = set()
        self._lock = threading.Lock()

    def get(self, token: str | None):
        """The cached (Agency, grants) for `token`, or None when absent, expired or stale."""
        if not token or self.ttl <= 0:
            return None
        digest = grants.hash_token(token)
        with self._lock:
            entry = self._entries.get(digest[:16])
        if entry is None:
            return None
        full, expires, generation, value = entry
        if not hmac.compare_digest(full, digest) or self.clock() >= expires or generation != grants.changes():
            return None
        return value

    def due(self, token: str) -> bool:
        """True, once, when `token`'s entry is in the second half of its life: the caller then looks
        it up again off the request path (`put` when found, `forget` when refused), so a token in
        steady use never expires under a request that would wait for the lookup."""
        if not token or self.ttl <= 0:
            return False
        digest = grants.hash_token(token)
        with self._lock:
            entry = self._entries.get(digest[:16])
            if entry is None or digest[:16] in self._renewing or self.clock() < entry[1] - self.ttl / 2:
                return False
            self._renewing.add(digest[:16])
            return True

    def forget(self, token: str) -> None:
        """Drop `token`'s entry: a renewal found it unknown or revoked.  (A renewal that failed
        otherwise leaves the entry to expire; the first request after that looks it up itself.)"""
        digest = grants.hash_token(token)
        with self._lock:
            self._renewing.discard(digest[:16])
            entry = self._entries.get(digest[:16])
            if entry is not None and hmac.compare_digest(entry[0], digest):
                del self._entries[digest[:16]]

    def put(self, token: str, value, generation: int) -> None:
        """Keep `value`, found when the process's access changes stood at `generation`."""
        if self.ttl <= 0:
            return
        digest = grants.hash_token(token)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # a flood of distinct live tokens: start over rather than grow
                self._renewing.clear()
            self._entries[digest[:16]] = (digest, self.clock() + self.ttl, generation, value)
            self._renewing.discard(digest[:16])


class RateLimiter:
    """A token bucket per agency, in this process only (each worker has its own)."""

    shared = False

    def __init__(self):
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, per_minute: int) -> float:
        """0 if the request may go, else the seconds to wait."""
        rate, burst = per_minute / 60.0, max(1.0, per_minute / 6.0)  # ten seconds' worth of burst
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - then) * rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / rate

    async def take(self, key: str, per_minute: int) -> float:
        """`allow` for the event loop (the same interface as RedisRateLimiter.take)."""
        return self.allow(key, per_minute)


# The same bucket as RateLimiter, kept in Redis and updated atomically by the server, on the
# server's clock (workers' clocks need not agree).  A call takes up to ARGV[3] tokens at once
# (a lease) and returns how many it took and, if none, the seconds to wait.  The wait goes back
# as a string: Lua would cut it to an integer.
_LEASE = """
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local took, wait = math.min(want, math.floor(tokens)), 0
if took >= 1 then tokens = tokens - took else took = 0; wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return {took, tostring(wait)}
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every worker (and every host) using the same Redis.

    Redis is awaited on the event loop (redis.asyncio), and not on every request: a worker
    takes a lease of up to `lease` seconds' worth of an agency's rate (one token under 1/lease
    requests a second, at most `max_lease`) in one call, spends it locally, and drops what is
    left once the lease is `lease` seconds old.  Tokens are taken from the shared bucket
    before they are spent and spent within `lease` seconds, so over any span of time every
    worker together lets an agency through at most its burst plus its rate over that span plus
    `lease` seconds (a tenth of a second's worth by default), however many workers there are.

    If Redis stops answering, requests are limited per worker (the fallback) and a warning is
    logged, rather than refused: a limit is a fairness guard, not an access control.  Redis is
    then left alone for `retry_after` seconds, so a hung server does not delay every request
    by its timeout.
    """

    shared = True

    def __init__(self, url: str, prefix: str = "munihub:rate:", retry_after: float = 5.0,
                 lease: float = 0.1, max_lease: int = 50):
        self.url, self.prefix, self.retry_after = url, prefix, retry_after
        self.lease, self.max_lease = lease, max_lease
        self.fallback = RateLimiter()
        self.script: Any = None
        self._loop = None
        self._held: dict[str, tuple[int, float]] = {}  # agency -> (tokens left, lease ends)
        self._down_until = 0.0

    async def _lease(self, key: str, rate: float, burst: float, want: int) -> tuple[int, float, float]:
        """One call to Redis: (tokens taken, seconds to wait if none, when the call was sent: the
        tokens were taken after that).  The client belongs to the running loop (a server has one
        per worker; a test client may run a loop per request)."""
        import asyncio

        import redis.asyncio
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            client = redis.asyncio.Redis.from_url(self.url, socket_timeout=0.25, socket_connect_timeout=0.25)
            self.script, self._loop = client.register_script(_LEASE), loop
        sent = time.monotonic()
        took, wait = await self.script(keys=[self.prefix + key], args=[rate, burst, want])
        return int(took), float(wait), sent

    async def take(self, key: str, per_minute: int) -> float:
        """0 if the request may go, else the seconds to wait."""
        now = time.monotonic()
        left, ends = self._held.get(key, (0, 0.0))
        if left > 0 and now < ends:
            self._held[key] = (left - 1, ends)
            return 0.0
        if now < self._down_until:
            return self.fallback.allow(key, per_minute)
        import redis
        rate, burst = per_minute / 60.0, max(1.0, per_minute / 6.0)
        want = max(1, min(self.max_lease, int(rate * self.lease)))
        try:
            took, wait, sent = await self._lease(key, rate, burst, want)
        except (redis.RedisError, OSError) as err:
            if not self._down_until:
                log.warning("rate limits fall back to per-worker buckets: Redis did not answer (%s); "
                            "trying it again every %.0f s", err.__class__.__name__, self.retry_after)
            self._down_until = time.monotonic() + self.retry_after
            return self.fallback.allow(key, per_minute)
        if self._down_until:
            log.warning("rate limits are shared through Redis again")
            self._down_until = 0.0
        if took < 1:
            return wait
        self._held[key] = (took - 1, sent + self.lease)
        return 0.0


def rate_limiter(redis_url: str | None):
    """Shared buckets in Redis when a URL is configured, else buckets in this worker."""
    return RedisRateLimiter(redis_url) if redis_url else RateLimiter()
