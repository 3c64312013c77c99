"""The daemon's metrics, in Prometheus' text format (sys/metrics).

One CollectorRegistry per daemon (never prometheus_client's global one: several daemons in one test
process must not share counts). Requests are counted at the HTTP edge as they finish; everything else
(seal state, HSM calls, leases, audit failures) is read from its owner at scrape time, so the engine
and the hsm package keep plain numbers and never import prometheus_client.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from engine.errors import EngineError
from hsm.stats import CALL_STATS, CallStats
from sealer.seal_manager import SealManager

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Request latencies on a secrets daemon run from well under a millisecond (a cached read) to seconds
# (an HSM-backed or database operation).
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, manager: SealManager, hsm_stats: CallStats = CALL_STATS) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.state = StateCollector(manager, hsm_stats)
        self.registry.register(self.state)
        self.requests = RequestCounts()
        self.registry.register(self.requests)
        self.refused = Counter(
            "sealer_http_refused_requests",
            "Requests refused before reaching the core: rate limit quotas, the concurrency bound, body size.",
            ("reason",),
            registry=self.registry,
        )

    def observe(self, mount: str, operation: str, code: int, seconds: float) -> None:
        self.requests.observe(mount, operation, code, seconds)

    async def render(self) -> bytes:
        # Whether the store is initialised needs a storage read, which a collector (sync) cannot do.
        self.state.initialized = await self.state.manager.initialized()
        return generate_latest(self.registry)


class _Latencies:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_LATENCY_BUCKETS) + 1)  # per bucket, not cumulative; the last is +Inf
        self.total = 0.0


class RequestCounts(Collector):
    """Requests answered by (mount, operation, code), and their latency histogram by (mount, operation).

    Kept as plain numbers, updated on the event loop's thread as each request finishes, and turned into
    metric families only at scrape time: prometheus_client's labelled children take a lock and walk the
    buckets in Python on every update, which cost a few percent of a cached read."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, int], int] = {}
        self._latencies: dict[tuple[str, str], _Latencies] = {}

    def observe(self, mount: str, operation: str, code: int, seconds: float) -> None:
        key = (mount, operation, code)
        self._counts[key] = self._counts.get(key, 0) + 1
        latencies = self._latencies.get((mount, operation))
        if latencies is None:
            latencies = self._latencies[(mount, operation)] = _Latencies()
        # A bucket counts the observations less than or equal to its bound, as Prometheus' "le".
        latencies.counts[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        latencies.total += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "sealer_http_requests",
            "HTTP API requests answered, by mount, operation and status code.",
            labels=["mount", "operation", "code"],
        )
        for (mount, operation, code), count in sorted(self._counts.items()):
            requests.add_metric([mount, operation, str(code)], count)
        yield requests
        latency = HistogramMetricFamily(
            "sealer_http_request_duration_seconds",
            "Time to answer an HTTP API request, by mount and operation.",
            labels=["mount", "operation"],
        )
        bounds = [floatToGoString(bound) for bound in _LATENCY_BUCKETS] + ["+Inf"]
        for (mount, operation), latencies in sorted(self._latencies.items()):
            buckets = list(zip(bounds, accumulate(latencies.counts), strict=True))
            latency.add_metric([mount, operation], buckets, latencies.total)
        yield latency


class StateCollector(Collector):
    """What is read from its owner at each scrape."""

    def __init__(self, manager: SealManager, hsm_stats: CallStats) -> None:
        self.manager = manager
        self.hsm_stats = hsm_stats
        self.initialized = False
        # The audit broker is made anew at each unseal, its count from zero: the counter carries the
        # counts of the brokers before it, so that it only ever grows while the process lives.
        self._broker_id = 0
        self._audit_failures_before = 0
        self._audit_failures_last = 0

    def collect(self) -> Iterator[Metric]:
        manager = self.manager
        yield _gauge("sealer_initialized", "1 if the storage holds an initialised seal.", self.initialized)
        yield _gauge("sealer_sealed", "1 while sealed.", manager.sealed)
        yield _gauge("sealer_standby", "1 while an HA standby.", manager.standby)
        yield from self._hsm()
        yield from self._core()

    def _hsm(self) -> Iterator[Metric]:
        calls = CounterMetricFamily("sealer_hsm_calls", "Calls into the PKCS#11 module.", labels=["operation"])
        failures = CounterMetricFamily(
            "sealer_hsm_call_failures", "PKCS#11 calls that failed or timed out.", labels=["operation"]
        )
        latency = SummaryMetricFamily(
            "sealer_hsm_call_duration_seconds", "Time of PKCS#11 calls, queueing included.", labels=["operation"]
        )
        for operation, stats in sorted(self.hsm_stats.snapshot().items()):
            calls.add_metric([operation], stats.calls)
            failures.add_metric([operation], stats.failures)
            latency.add_metric([operation], count_value=stats.calls, sum_value=stats.seconds)
        yield from (calls, failures, latency)

    def _core(self) -> Iterator[Metric]:
        """Leases and audit failures: only while this node serves (unsealed and active)."""
        try:
            core = self.manager.active_core()
            all_leases = core.expiration.count("all") or {}
            irrevocable = core.expiration.count("irrevocable") or {}
            broker = core.audit
        except EngineError:  # sealed, or a standby: nothing to report
            return
        leases = GaugeMetricFamily("sealer_leases", "Leases the expiration manager holds.", labels=["type"])
        leases.add_metric(["all"], all_leases.get("lease_count", 0))
        leases.add_metric(["irrevocable"], irrevocable.get("lease_count", 0))
        yield leases
        per_mount = GaugeMetricFamily("sealer_leases_by_mount", "Leases per mount accessor.", labels=["accessor"])
        for accessor, count in sorted(all_leases.get("counts", {}).items()):
            per_mount.add_metric([accessor], count)
        yield per_mount
        if id(broker) != self._broker_id:
            self._broker_id = id(broker)
            self._audit_failures_before += self._audit_failures_last
        self._audit_failures_last = broker.failures
        yield CounterMetricFamily(
            "sealer_audit_log_failures",
            "Requests refused because no audit device could log them.",
            value=self._audit_failures_before + broker.failures,
        )


def _gauge(name: str, documentation: str, value: bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=int(value))
