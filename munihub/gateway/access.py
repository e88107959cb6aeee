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

    def put(self, token: str, value, generation: int) -> None:
        """Keep `value`, found when the process's access changes stood at `generation`."""
        if self.ttl <= 0:
            return
        digest = grants.hash_token(token)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # a flood of distinct live tokens: start over rather than grow
            self._entries[digest[:16]] = (digest, self.clock() + self.ttl, generation, value)


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


# The same bucket as RateLimiter, kept in Redis and updated atomically by the server, on the
# server's clock (workers' clocks need not agree).  Numbers go back as strings: Lua would cut
# them to integers.
_BUCKET = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every worker (and every host) using the same Redis.

    If Redis stops answering, requests are limited per worker (the fallback) and a warning is
    logged, rather than refused: a limit is a fairness guard, not an access control.  Redis is
    then left alone for `retry_after` seconds, so a hung server does not stall every request
    for its timeout (the call runs on the worker's event loop).
    """

    shared = True

    def __init__(self, url: str, prefix: str = "munihub:rate:", retry_after: float = 5.0):
        import redis
        self.client = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
        self.script = self.client.register_script(_BUCKET)
        self.prefix, self.fallback, self.retry_after = prefix, RateLimiter(), retry_after
        self._down_until = 0.0

    def allow(self, key: str, per_minute: int) -> float:
        import redis
        if time.monotonic() < self._down_until:
            return self.fallback.allow(key, per_minute)
        rate, burst = per_minute / 60.0, max(1.0, per_minute / 6.0)
        try:
            wait = float(self.script(keys=[self.prefix + key], args=[rate, burst]))
        except redis.RedisError as err:
            if not self._down_until:
                log.warning("rate limits fall back to per-worker buckets: Redis did not answer (%s); "
                            "trying it again every %.0f s", err.__class__.__name__, self.retry_after)
            self._down_until = time.monotonic() + self.retry_after
            return self.fallback.allow(key, per_minute)
        if self._down_until:
            log.warning("rate limits are shared through Redis again")
            self._down_until = 0.0
        return wait


def rate_limiter(redis_url: str | None):
    """Shared buckets in Redis when a URL is configured, else buckets in this worker."""
    return RedisRateLimiter(redis_url) if redis_url else RateLimiter()
