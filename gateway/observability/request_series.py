"""The per-request series (counters and histograms every finished request adds to), in two
implementations behind one interface, chosen by how `/metrics` is served.

prometheus-client's `Counter` and `Histogram` take a lock and check their kind on every
`inc` / `observe`: the dozen updates of one request cost ~1,500 interpreted bytecodes, a fifth
of the gateway's whole Python work per request (counted with an opcode tracer, the app called in
process). `LocalSeries` keeps the values in plain dicts instead (the event loop is the only
writer) and hands them to prometheus-client as metric families when `/metrics` is scraped: a
custom collector, the library's documented way to expose values it does not hold. The
exposition is the library's own (same names, `_total`, `_bucket{le}`, `_count`, `_sum` and
`_created` samples), checked against it by tests/unit/observability/test_request_series.py.

With `--workers N` every worker must write its values where any worker's scrape can read them
(prometheus-client's multiprocess files), so there the library's own metrics are used
(`LibrarySeries`)."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, Protocol, TypeVar, cast

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

Labels = tuple[str, ...]
Child = TypeVar("Child", Counter, Histogram)
# How the library writes a bucket's bound as its `le` label ("0.01", "1.0", "+Inf").
bound_label = cast(Callable[[float], str], floatToGoString)


class CounterSeries(Protocol):
    def add(self, labels: Labels, amount: float) -> None:
        """Add `amount` (>= 0) to the series named by `labels` (one value per label name)."""


class HistogramSeries(Protocol):
    def observe(self, labels: Labels, value: float) -> None:
        """Count `value` in the series named by `labels`."""


class LocalCounter:
    """A counter family whose values live in this process, read at scrape time."""

    __slots__ = ("created", "doc", "label_names", "name", "values")

    def __init__(self, name: str, doc: str, label_names: Sequence[str]) -> None:
        self.name, self.doc, self.label_names = name, doc, tuple(label_names)
        self.values: dict[Labels, float] = {}
        self.created: dict[Labels, float] = {}

    def add(self, labels: Labels, amount: float) -> None:
        values = self.values
        if labels in values:
            values[labels] += amount
        else:  # its creation time first: a scrape that sees the value finds it
            self.created[labels] = time.time()
            values[labels] = amount

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.doc, labels=self.label_names)
        created = self.created
        for labels, value in list(self.values.items()):
            family.add_metric(labels, value, created=created[labels])
        return family


class LocalHistogram:
    """A histogram family whose values live in this process: per series, the count of each
    bucket (not cumulative; the last one is +Inf) and then the sum."""

    __slots__ = ("bounds", "created", "doc", "label_names", "le", "name", "rows")

    def __init__(
        self, name: str, doc: str, label_names: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name, self.doc, self.label_names = name, doc, tuple(label_names)
        self.bounds = tuple(float(bound) for bound in buckets)
        self.le = [bound_label(bound) for bound in self.bounds] + ["+Inf"]
        self.rows: dict[Labels, list[float]] = {}
        self.created: dict[Labels, float] = {}
        if not self.label_names:  # like the library: an unlabelled histogram exists at 0
            self._new_row(())

    def _new_row(self, labels: Labels) -> list[float]:
        self.created[labels] = time.time()  # first: a scrape that sees the row finds it
        row = self.rows[labels] = [0.0] * (len(self.bounds) + 2)
        return row

    def observe(self, labels: Labels, value: float) -> None:
        row = self.rows.get(labels)
        if row is None:
            row = self._new_row(labels)
        row[bisect_left(self.bounds, value)] += 1  # a bucket's bound is inclusive (le)
        row[-1] += value

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.doc, labels=self.label_names)
        created, le = self.created, self.le
        for labels, row in list(self.rows.items()):
            cumulative, buckets = 0.0, []
            for bound, count in zip(le, row[:-1], strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            family.add_metric(labels, buckets, row[-1])
            # The library's histograms also say when each series was created.
            named = dict(zip(self.label_names, labels, strict=True))
            family.samples.append(Sample(self.name + "_created", named, created[labels]))
        return family


class LocalSeries(Collector):
    """Makes the local families and exposes them through `registry` (from `register()`, once
    they are made: the registry checks their names then)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._families: list[LocalCounter | LocalHistogram] = []

    def register(self) -> None:
        self.registry.register(self)

    def counter(self, name: str, doc: str, label_names: Sequence[str] = ()) -> LocalCounter:
        counter = LocalCounter(name, doc, label_names)
        self._families.append(counter)
        return counter

    def histogram(
        self, name: str, doc: str, label_names: Sequence[str], buckets: Sequence[float]
    ) -> LocalHistogram:
        histogram = LocalHistogram(name, doc, label_names, buckets)
        self._families.append(histogram)
        return histogram

    def collect(self) -> Iterator[Metric]:
        for series in self._families:
            yield series.family()

    def describe(self) -> Iterator[Metric]:
        """The families without samples: what the registry checks names against."""
        for series in self._families:
            if isinstance(series, LocalCounter):
                yield CounterMetricFamily(series.name, series.doc, labels=series.label_names)
            else:
                yield HistogramMetricFamily(series.name, series.doc, labels=series.label_names)


class _LibraryChildren(Generic[Child]):
    """A prometheus-client metric's children, memoised by label values."""

    __slots__ = ("_children", "metric")

    def __init__(self, metric: Child) -> None:
        self.metric: Child = metric
        self._children: dict[Labels, Child] = {}

    def child(self, labels: Labels) -> Child:
        found = self._children.get(labels)
        if found is None:
            found = self._children[labels] = self.metric.labels(*labels) if labels else self.metric
        return found


class LibraryCounter(_LibraryChildren[Counter]):
    __slots__ = ()

    def add(self, labels: Labels, amount: float) -> None:
        self.child(labels).inc(amount)


class LibraryHistogram(_LibraryChildren[Histogram]):
    __slots__ = ()

    def observe(self, labels: Labels, value: float) -> None:
        self.child(labels).observe(value)


class LibrarySeries:
    """Makes the families as prometheus-client metrics in `registry` (what `--workers N`
    needs: they write the multiprocess files)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def register(self) -> None:
        """Nothing to do: each metric registered itself when made."""

    def counter(self, name: str, doc: str, label_names: Sequence[str] = ()) -> LibraryCounter:
        return LibraryCounter(Counter(name, doc, label_names, registry=self.registry))

    def histogram(
        self, name: str, doc: str, label_names: Sequence[str], buckets: Sequence[float]
    ) -> LibraryHistogram:
        return LibraryHistogram(
            Histogram(name, doc, label_names, buckets=buckets, registry=self.registry)
        )


class SeriesFactory(Protocol):
    def register(self) -> None:
        """Expose the families made so far through the registry."""

    def counter(self, name: str, doc: str, label_names: Sequence[str] = ()) -> CounterSeries: ...

    def histogram(
        self, name: str, doc: str, label_names: Sequence[str], buckets: Sequence[float]
    ) -> HistogramSeries: ...
