"""Activation statistics fitted to a real trace (``spikesim fit-stats``), for shape-only workloads.

A shape-only workload (:mod:`spikesim.trace.workload`) generates each linear layer's input with
the LLM-like statistics of :mod:`spikesim.trace.synth`: per activation site (``attn_in``: q/k/v
input, ``o_in``, ``mlp_in``: gate/up input, ``down_in``) a Student-t bulk with ``df`` degrees of
freedom times a lognormal per-token scale (σ 0.25) and a lognormal per-channel gain (σ
``channel_sigma``), persistent outlier channels (``outlier_fraction`` of the channels, magnitudes
``outlier_lo``…``outlier_hi`` bulk units), and rare massive values (``massive_rate`` per entry,
``massive_lo``…``massive_hi``); the down_proj input is the SwiGLU product ``silu(g)·u`` of such a
bulk ``u`` and a wider Student-t gate ``g``. This module estimates those eight numbers per site
from the inputs ``x`` of a trace's linear layers, so a model with no trace on disk (llama2-7b at
2048 tokens) can be simulated with the statistics of one that has one.

Estimators (one layer's ``x`` ``[M, K]``, float64, |x| > 0 entries only)
-----------------------------------------------------------------------
Write ``L = log|x|``. Under the model, on a bulk channel ``L[t, k] = log S + log a_t + log g_k +
ℓ[t, k]`` with ``a_t``, ``g_k`` lognormal of median 1, ``S`` the bulk scale (the trace's units)
and ``ℓ`` the log-magnitude of one bulk draw (``log|t|``, plus ``log|silu(g)|`` at ``down_in``):

* **Outlier channels**: channels whose median |x| over tokens is at least
  :data:`OUTLIER_RATIO` times the median of those channel medians. ``outlier_fraction`` is their
  share of K (the generator keeps at least one channel whatever the fraction).
* **df** from the two-way residual of ``L`` over the bulk channels (minus token means, channel
  means, plus the grand mean), whose variance is ``Var ℓ``·(1 − 1/M)(1 − 1/K): for the Student-t
  of unit variance ``Var log|t| = π²/8 + ψ′(df/2)/4`` (``t = z·√((df−2)/(2G))``, G ~
  Gamma(df/2)), decreasing in df; at ``down_in`` plus ``Var log|silu(1.5 t′)|`` estimated by
  Monte Carlo (fixed seed). Solved by bisection on [:data:`DF_MIN`, :data:`DF_MAX`]; a residual
  no heavier than a Gaussian's gives ``DF_MAX``.
* **channel_sigma**: the variance of the channel means of ``L`` over the bulk channels is
  ``σ_c² + Var ℓ / M``; σ_c = √(max(0, that − Var ℓ / M)).
* **S**: ``mean L`` over the bulk = ``log S + E ℓ`` (the lognormal scales have mean log 0), with
  ``E log|t| = −(γ + ln 2)/2 + ½ ln((df−2)/2) − ½ ψ(df/2)``.
* **Outlier magnitudes**: each outlier channel's median |x| / S (``down_in``: / the median |x| of
  the bulk channels, since the generator *multiplies* those channels of ``u``); ``outlier_lo``,
  ``outlier_hi`` their minimum and maximum.
* **Massive values**: bulk-channel entries with |x| ≥ :data:`MASSIVE_RATIO` · S; the rate is
  their share of the bulk entries, ``massive_lo``/``massive_hi`` their smallest and largest
  |x| / S.

A site's numbers are the medians over its layers' fits (every layer is fitted alone: a block's
scale differs from another's). Sites without a layer in the trace are left out: generation keeps
the built-in statistics for them (:func:`spikesim.trace.synth.site_stats`). The per-token scale
σ, the weights and the attention operands keep the built-in statistics.

These are estimators of the generator's own parameters (a fit of the generator to the trace by
its moments and quantiles), checked by generating values with known statistics and fitting them
back (``tests/trace/test_fitstats.py``); they are not a claim that real activations follow the
model in every respect.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator, model_validator

from spikesim.config._base import FrozenModel
from spikesim.config.loader import read_yaml_mapping, validate_mapping
from spikesim.errors import InputError
from spikesim.trace.synth import (
    ACTIVATION_STATS,
    SWIGLU_GATE_SCALE,
    ActivationStats,
    site_of,
)

__all__ = [
    "DF_MAX",
    "DF_MIN",
    "MASSIVE_RATIO",
    "OUTLIER_RATIO",
    "STATS_FORMAT",
    "ActivationStatsFile",
    "FittedSite",
    "FittedStats",
    "digamma",
    "fit_activations",
    "fit_layers",
    "load_activation_stats",
    "read_activation_stats",
    "stats_document",
    "trigamma",
]

STATS_FORMAT = "spikesim-activation-stats"
"""``format`` of a statistics file."""

OUTLIER_RATIO = 8.0
"""A channel is an outlier channel when its median |x| is at least this many times the median
channel's (the built-in statistics put outliers at 10-100 bulk units; channel gains of σ 0.5
reach 8 about once in 10^5 channels)."""

MASSIVE_RATIO = 50.0
"""A bulk-channel entry is a massive value when |x| is at least this many bulk scales S."""

DF_MIN, DF_MAX = 2.05, 200.0
"""Range of the fitted Student-t degrees of freedom (the unit-variance Student-t needs df > 2;
above 200 it is a Gaussian for this purpose)."""

_EULER_GAMMA = 0.5772156649015329
_MEAN_LOG_ABS_NORMAL = -(_EULER_GAMMA + math.log(2.0)) / 2.0
_VAR_LOG_ABS_NORMAL = math.pi**2 / 8.0
_GATE_SAMPLES = 1 << 18
_GATE_SEED = 20251022


def digamma(x: float) -> float:
    """ψ(x) for x > 0: recurrence up to 10, then the asymptotic series (error < 1e-12)."""
    result = 0.0
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    inv = 1.0 / x
    inv2 = inv * inv
    return result + math.log(x) - 0.5 * inv - inv2 * (
        1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 / 240))
    )


def trigamma(x: float) -> float:
    """ψ′(x) for x > 0: recurrence up to 10, then the asymptotic series (error < 1e-12)."""
    result = 0.0
    while x < 10.0:
        result += 1.0 / (x * x)
        x += 1.0
    inv = 1.0 / x
    inv2 = inv * inv
    return result + inv + 0.5 * inv2 + inv * inv2 * (
        1.0 / 6 - inv2 * (1.0 / 30 - inv2 * (1.0 / 42 - inv2 / 30))
    )


def _t_log_moments(df: float) -> tuple[float, float]:
    """Mean and variance of log|t| for the unit-variance Student-t of ``df`` (closed form)."""
    mean = _MEAN_LOG_ABS_NORMAL + 0.5 * math.log((df - 2.0) / 2.0) - 0.5 * digamma(df / 2.0)
    return mean, _VAR_LOG_ABS_NORMAL + 0.25 * trigamma(df / 2.0)


@cache
def _gate_log_moments(df: float) -> tuple[float, float]:
    """Mean and variance of log|silu(1.5 t)| for the unit-variance Student-t of ``df``
    (Monte Carlo, fixed seed, :data:`_GATE_SAMPLES` draws)."""
    rng = np.random.default_rng(_GATE_SEED)
    z = rng.standard_normal(_GATE_SAMPLES)
    gamma = np.maximum(rng.standard_gamma(df / 2.0, _GATE_SAMPLES), 1e-300)
    g = SWIGLU_GATE_SCALE * z * np.sqrt((df - 2.0) / 2.0 / gamma)
    with np.errstate(over="ignore"):
        silu = g / (1.0 + np.exp(-g))
    logs = np.log(np.abs(silu[silu != 0.0]))
    return float(logs.mean()), float(logs.var())


def _bulk_log_moments(site: str, df: float) -> tuple[float, float]:
    """Mean and variance of the log-magnitude of one bulk draw at ``site`` (no scales)."""
    mean, var = _t_log_moments(df)
    if site == "down_in":
        gate_mean, gate_var = _gate_log_moments(float(f"{df:.6g}"))
        return mean + gate_mean, var + gate_var
    return mean, var


def _solve_df(site: str, variance: float) -> float:
    """The df whose bulk log-variance is ``variance`` (bisection on log df; clipped)."""
    def var_of(df: float) -> float:
        return _bulk_log_moments(site, df)[1]

    if variance >= var_of(DF_MIN):
        return DF_MIN
    if variance <= var_of(DF_MAX):
        return DF_MAX
    lo, hi = math.log(DF_MIN), math.log(DF_MAX)
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if var_of(math.exp(mid)) > variance:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


@dataclass(frozen=True)
class FittedSite:
    """One site's fitted statistics and what they came from."""

    stats: ActivationStats
    layers: tuple[str, ...]
    """The layers whose inputs were fitted."""
    bulk_scale: float
    """S, the median over the layers (the trace's units; quantization does not depend on it)."""


def _sig(value: float) -> float:
    """``value`` to 6 significant digits (what a statistics file holds)."""
    return float(f"{value:.6g}")


def _fit_bulk(bulk: np.ndarray, keep: np.ndarray, site: str) -> tuple[float, float, float]:
    """df, bulk scale S and channel_sigma of the ``keep`` entries of the bulk channels."""
    m, k = bulk.shape
    logs = np.where(keep, np.log(np.where(keep, bulk, 1.0)), 0.0)
    kept = max(int(keep.sum()), 1)
    token_mean = logs.sum(axis=1, keepdims=True) / np.maximum(keep.sum(axis=1, keepdims=True), 1)
    channel_mean = logs.sum(axis=0, keepdims=True) / np.maximum(keep.sum(axis=0, keepdims=True),
                                                                 1)
    grand = float(logs.sum()) / kept
    residual = np.where(keep, logs - token_mean - channel_mean + grand, 0.0)
    dof = max((1.0 - 1.0 / m) * (1.0 - 1.0 / k), 1e-9)
    variance = float((residual**2).sum()) / kept / dof
    df = _solve_df(site, variance)
    mean_draw, var_draw = _bulk_log_moments(site, df)
    channel_var = float(np.var(channel_mean)) - var_draw / m
    channel_sigma = math.sqrt(max(channel_var, 0.0))
    return df, math.exp(grand - mean_draw), channel_sigma


def fit_activations(x: np.ndarray, site: str) -> tuple[ActivationStats, float]:
    """The statistics of ``site`` fitted to one layer input ``x`` ``[M, K]`` (see the module
    docstring), and its bulk scale S."""
    if site not in ACTIVATION_STATS:
        raise ValueError(f"unknown activation site {site!r}")
    a = np.abs(np.asarray(x, dtype=np.float64))
    m, k = a.shape
    if m < 2 or k < 2:
        raise InputError(f"an input of {m} x {k} values is too small to fit", field="x")
    channel_median = np.median(a, axis=0)
    reference = float(np.median(channel_median))
    if not reference > 0.0:
        raise InputError("half or more of the input channels are zero", field="x")
    outliers = channel_median >= OUTLIER_RATIO * reference
    bulk = a[:, ~outliers]
    # two passes: the second leaves out the massive values the first one's scale finds (a
    # rate of 1e-3 at 100-1000 bulk units would otherwise add about 0.03 to Var log|x|)
    df, scale, channel_sigma = _fit_bulk(bulk, bulk > 0.0, site)
    df, scale, channel_sigma = _fit_bulk(
        bulk, (bulk > 0.0) & (bulk < MASSIVE_RATIO * scale), site
    )

    if outliers.any():
        unit = float(np.median(bulk)) if site == "down_in" else scale
        magnitudes = channel_median[outliers] / unit
        outlier_lo, outlier_hi = float(magnitudes.min()), float(magnitudes.max())
    else:
        outlier_lo = outlier_hi = OUTLIER_RATIO
    massive = bulk[bulk >= MASSIVE_RATIO * scale] / scale
    default = ACTIVATION_STATS[site]
    if massive.size:
        massive_lo, massive_hi = float(massive.min()), float(massive.max())
    else:
        massive_lo, massive_hi = default.massive_lo, default.massive_hi
    stats = ActivationStats(
        df=_sig(df),
        channel_sigma=_sig(channel_sigma),
        outlier_fraction=_sig(float(outliers.sum()) / k),
        outlier_lo=_sig(outlier_lo),
        outlier_hi=_sig(outlier_hi),
        massive_rate=_sig(massive.size / bulk.size),
        massive_lo=_sig(massive_lo),
        massive_hi=_sig(massive_hi),
    )
    return stats, scale


def fit_layers(
    layers: Iterable[tuple[str, str, Callable[[], np.ndarray]]],
    on_layer: Callable[[str], None] | None = None,
) -> dict[str, FittedSite]:
    """Per site, the medians of the fits of every ``(name, op, x())`` whose ``op`` has a site
    (:func:`spikesim.trace.synth.site_of`; other ops are skipped); ``x()`` is called once per
    layer, one layer in memory at a time."""
    per_site: dict[str, list[tuple[str, ActivationStats, float]]] = {}
    for name, op, activations in layers:
        if op not in _SITE_OPS:
            continue
        site = site_of(op)
        stats, scale = fit_activations(activations(), site)
        per_site.setdefault(site, []).append((name, stats, scale))
        if on_layer is not None:
            on_layer(name)
    fitted: dict[str, FittedSite] = {}
    for site in ACTIVATION_STATS:
        rows = per_site.get(site)
        if not rows:
            continue
        fields = {
            key: _sig(float(np.median([asdict(s)[key] for _, s, _ in rows])))
            for key in asdict(rows[0][1])
        }
        fitted[site] = FittedSite(
            stats=ActivationStats(**fields),
            layers=tuple(name for name, _, _ in rows),
            bulk_scale=float(np.median([scale for _, _, scale in rows])),
        )
    return fitted


_SITE_OPS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Ops whose input is a known activation site (``gemm`` layers have none)."""


class SiteStatsModel(FrozenModel):
    """One site's statistics in a statistics file (the fields of
    :class:`~spikesim.trace.synth.ActivationStats`)."""

    df: float = Field(gt=2.0, le=1000.0)
    channel_sigma: float = Field(ge=0.0, le=5.0)
    outlier_fraction: float = Field(ge=0.0, le=1.0)
    outlier_lo: float = Field(gt=0.0, le=1e6)
    outlier_hi: float = Field(gt=0.0, le=1e6)
    massive_rate: float = Field(ge=0.0, le=0.1)
    massive_lo: float = Field(gt=0.0, le=1e7)
    massive_hi: float = Field(gt=0.0, le=1e7)
    layers: list[str] = Field(default_factory=list)
    """The layers it was fitted to (information)."""
    bulk_scale: float | None = None
    """The trace's bulk scale S (information)."""

    @model_validator(mode="after")
    def _ordered(self) -> SiteStatsModel:
        if self.outlier_lo > self.outlier_hi:
            raise ValueError("outlier_lo must not exceed outlier_hi")
        if self.massive_lo > self.massive_hi:
            raise ValueError("massive_lo must not exceed massive_hi")
        return self

    def stats(self) -> ActivationStats:
        return ActivationStats(
            df=self.df, channel_sigma=self.channel_sigma,
            outlier_fraction=self.outlier_fraction, outlier_lo=self.outlier_lo,
            outlier_hi=self.outlier_hi, massive_rate=self.massive_rate,
            massive_lo=self.massive_lo, massive_hi=self.massive_hi,
        )


class ActivationStatsFile(FrozenModel):
    """A statistics file (YAML): ``format``, ``version``, ``source`` and ``sites``."""

    format: str
    version: int = Field(ge=1, le=1)
    source: dict[str, Any] = Field(default_factory=dict)
    sites: dict[str, SiteStatsModel]

    @field_validator("format")
    @classmethod
    def _our_format(cls, value: str) -> str:
        if value != STATS_FORMAT:
            raise ValueError(f"must be {STATS_FORMAT!r} (a file written by spikesim fit-stats)")
        return value

    @field_validator("sites")
    @classmethod
    def _known_sites(cls, value: dict[str, SiteStatsModel]) -> dict[str, SiteStatsModel]:
        unknown = sorted(set(value) - set(ACTIVATION_STATS))
        if unknown:
            raise ValueError(
                f"unknown site {unknown[0]!r} (sites: {', '.join(ACTIVATION_STATS)})"
            )
        if not value:
            raise ValueError("must name at least one site")
        return value


def stats_document(fitted: Mapping[str, FittedSite], source: Mapping[str, Any]) -> dict[str, Any]:
    """The YAML document of ``fitted`` (what :func:`load_activation_stats` reads back)."""
    return {
        "format": STATS_FORMAT,
        "version": 1,
        "source": dict(source),
        "sites": {
            site: {**asdict(f.stats), "bulk_scale": float(f"{f.bulk_scale:.6g}"),
                   "layers": list(f.layers)}
            for site, f in fitted.items()
        },
    }


def load_activation_stats(path: str | Path) -> dict[str, ActivationStats]:
    """The statistics per site of the file ``path``; an :class:`InputError` naming the file
    and the field when it is not a valid statistics file."""
    return read_activation_stats(path).sites


@dataclass(frozen=True)
class FittedStats:
    """A statistics file as a shape-only workload uses it."""

    sites: dict[str, ActivationStats]
    file_sha256: str
    """SHA-256 of the file's bytes (what the run records; not its path)."""

    def pairs(self) -> tuple[tuple[str, ActivationStats], ...]:
        """``(site, statistics)`` in site order (what generated layers carry)."""
        return tuple(sorted(self.sites.items()))

    def source(self) -> dict[str, Any]:
        """What a workload's ``source`` records of it."""
        return {"file_sha256": self.file_sha256,
                "activations": {site: asdict(s) for site, s in self.pairs()}}


def read_activation_stats(path: str | Path) -> FittedStats:
    """The statistics file ``path`` (an :class:`InputError` naming the file and the field when
    it is missing or invalid)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("statistics file does not exist (spikesim fit-stats writes one)",
                         file=path, field="stats")
    data = read_yaml_mapping(path)
    model = validate_mapping(ActivationStatsFile, data, file=path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return FittedStats({site: entry.stats() for site, entry in model.sites.items()}, digest)
