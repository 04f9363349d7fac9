"""Fake quantization: the simulator's integer quantizers applied inside a float model.

For a linear layer ``y = x W^T + b`` and a method, fake quantization computes

    ŵ_j,i = w̄_j,i · s_w,j          (w̄, s_w = ``rtn_weights(W, quant.weight_bits)``)
    x̂_t,i = x̄_t,i · s_x,t          (x̄, s_x = the method's per-token activation quantizer)
    y' = x̂ Ŵ^T + b                  (float32)

with exactly the functions :func:`spikesim.quant.quantize_layer` uses, applied per token on the
input flattened to ``[tokens, K]``:

``rtn``
    per-token symmetric INT-``act_bits`` (:func:`spikesim.quant.quantize_activations`);
``spikequant``
    the per-token MAD saliency rule with one shared scale from the normal values, salient values
    at ``salient_bits`` (:func:`spikesim.quant.kernels.spikequant_rows`, the fast twin of
    :func:`spikesim.quant.spikequant_activations`).

So y' equals ``dequantized_output(quantize_layer(...))`` (+ b) up to float rounding (float32 here,
float64 there); ``tests/test_eval.py`` checks it. Weights are per-output-channel RTN for every
quantized method.

Reference methods (not members of :class:`spikesim.quant.Method`):

``fp32``
    the model unchanged (float32 weights and activations): the reference perplexity;
``fp16``
    weights and linear-layer inputs rounded to float16 (the FP16 baseline design), computed in
    float32.

The registered MAC designs (``design_names(DesignKind.MAC)``) other than ``fp16``
(``atom``, ``spikellm``, ``mac-w4a4``) go through their integer path itself: the layer's output
is replaced by ``get_design(method).quantize(name, op, x, W, cfg).output()`` + b (float64, exact by
construction, slower). Atom and SpikeLLM pick their wide channels on calibration tokens; pass
``calibration`` (layer name → calibration inputs ``[T, K]``, see :func:`record_inputs`) and those
rows are put in front of every call's tokens, so the choice is static, made on the calibration
text, as in the papers; the output rows of the calibration tokens are dropped. Without it each
call calibrates on its own first ``quant.calibration_tokens`` tokens.

Extension point: a :class:`~spikesim.quant.Method` member without an entry in
:data:`ACTIVATION_QUANTIZERS` goes through ``dequantized_output(quantize_layer(..., method))``
the same way. Register a faster activation quantizer in :data:`ACTIVATION_QUANTIZERS` when a
method's dequantization is ``x̄ · s_x`` per token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from spikesim.config.quant import QuantConfig
from spikesim.dataflows import DesignKind, design_names, get_design
from spikesim.errors import InputError
from spikesim.quant import Method, dequantized_output, quantize_activations, quantize_layer
from spikesim.quant.kernels import rtn_weights, spikequant_rows

if TYPE_CHECKING:
    import torch

__all__ = [
    "ACTIVATION_QUANTIZERS",
    "REFERENCE_METHODS",
    "FakeQuantStats",
    "available_methods",
    "fake_quant_activations",
    "fake_quant_linear",
    "fake_quant_weights",
    "fake_quantized",
    "parse_methods",
    "record_inputs",
]

REFERENCE_METHODS = ("fp32", "fp16")
"""Methods that are not integer quantization: the float reference and float16 rounding."""

ActivationQuantizer = Callable[[NDArray[np.float32], QuantConfig], tuple[NDArray[np.float32], int]]
"""(x [M, K] float32, cfg) → (x̂ = x̄ · s_x [M, K] float32, number of salient values)."""


def _rtn_act(x: NDArray[np.float32], cfg: QuantConfig) -> tuple[NDArray[np.float32], int]:
    x_q, scale = quantize_activations(x, cfg.act_bits)
    return x_q.astype(np.float32) * scale[:, None], 0


def _spikequant_act(x: NDArray[np.float32], cfg: QuantConfig) -> tuple[NDArray[np.float32], int]:
    x_q, scale, salient = spikequant_rows(x, cfg.act_bits, cfg.salient_bits, cfg.mad_k)
    return x_q.astype(np.float32) * scale[:, None], int(salient.sum())


ACTIVATION_QUANTIZERS: dict[str, ActivationQuantizer] = {
    Method.RTN.value: _rtn_act,
    Method.SPIKEQUANT.value: _spikequant_act,
}
"""Per-token activation fake-quantizers by method name (the simulator's own functions)."""


def _mac_methods() -> tuple[str, ...]:
    return tuple(m for m in design_names(DesignKind.MAC) if m not in REFERENCE_METHODS)


def available_methods() -> tuple[str, ...]:
    """Every method ``spikesim eval`` accepts: the references, each quantization Method, then
    the MAC baselines' quantizers (``mac-w4a4``, ``atom``, ``spikellm``)."""
    names = [*REFERENCE_METHODS, *(m.value for m in Method), *_mac_methods()]
    return tuple(dict.fromkeys(names))


def needs_calibration(method: str) -> bool:
    """True for methods that choose channels on calibration tokens (the registered designs
    that say so: atom, spikellm)."""
    return method in design_names() and get_design(method).needs_calibration


def _integer_output(
    name: str,
    op: str,
    x: NDArray[np.float32],
    w: NDArray[np.float32],
    method: str,
    cfg: QuantConfig,
    calib: NDArray[np.float32] | None,
) -> tuple[NDArray[np.float64], int]:
    """The integer path's dequantized output [M, N] and the wide (salient) element count."""
    head = 0
    if calib is not None:
        head = calib.shape[0]
        x = np.concatenate([calib, x], axis=0)
    if method in _mac_methods():
        mq = get_design(method).quantize(name, op, x, w, cfg)
        y = mq.output()
        wide = round(mq.salient_ratio * (x.shape[0] - head) * x.shape[1])
    else:
        layer = quantize_layer(name, op, x, w, cfg, Method(method))
        y = dequantized_output(layer)
        wide = int(layer.salient[head:].sum())
    return y[head:], wide


def parse_methods(text: str | Sequence[str]) -> tuple[str, ...]:
    """Split and check a comma-separated method list (duplicates dropped, order kept).

    Raises
    ------
    InputError
        ``field="methods"`` for an empty list or an unknown name.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    names = list(dict.fromkeys(i.strip() for i in items if i.strip()))
    if not names:
        raise InputError("expected a comma-separated list of methods", field="methods")
    known = available_methods()
    for n in names:
        if n not in known:
            raise InputError(f"unknown method {n!r} (known: {', '.join(known)})", field="methods")
    return tuple(names)


def fake_quant_weights(w: NDArray[np.floating], cfg: QuantConfig) -> NDArray[np.float32]:
    """ŵ = w̄ · s_w: per-output-channel RTN at ``cfg.weight_bits`` of ``w`` [N, K]."""
    w_q, scale = rtn_weights(np.asarray(w, dtype=np.float32), cfg.weight_bits)
    return w_q.astype(np.float32) * scale[:, None]


def fake_quant_activations(
    x: NDArray[np.floating], method: str, cfg: QuantConfig
) -> tuple[NDArray[np.float32], int]:
    """x̂ = x̄ · s_x per token for ``x`` [M, K]; returns (x̂, salient count)."""
    return ACTIVATION_QUANTIZERS[method](np.ascontiguousarray(x, dtype=np.float32), cfg)


def fake_quant_linear(
    x: NDArray[np.floating],
    w: NDArray[np.floating],
    method: str,
    cfg: QuantConfig,
    b: NDArray[np.floating] | None = None,
) -> NDArray[np.float32]:
    """y' = x̂ ŵ^T (+ b) in float32, for ``x`` [M, K], ``w`` [N, K] (NumPy, no torch)."""
    if method == "fp32":
        y = np.asarray(x, np.float32) @ np.asarray(w, np.float32).T
    elif method == "fp16":
        xh = np.asarray(x, np.float32).astype(np.float16).astype(np.float32)
        wh = np.asarray(w, np.float32).astype(np.float16).astype(np.float32)
        y = xh @ wh.T
    elif method in ACTIVATION_QUANTIZERS:
        y = fake_quant_activations(x, method, cfg)[0] @ fake_quant_weights(w, cfg).T
    else:
        y64, _ = _integer_output(
            "layer", "op", np.asarray(x, np.float32), np.asarray(w, np.float32), method, cfg, None
        )
        y = y64.astype(np.float32)
    if b is not None:
        y = y + np.asarray(b, np.float32)[None, :]
    return np.asarray(y, dtype=np.float32)


@dataclass
class FakeQuantStats:
    """What fake quantization saw while active.

    Attributes
    ----------
    layers:
        Number of linear layers quantized.
    values:
        Activation values quantized (tokens × K, summed over layers and calls).
    salient:
        Of those, values flagged salient.
    """

    layers: int = 0
    values: int = 0
    salient: int = 0
    per_layer: dict[str, list[int]] = field(default_factory=dict)

    @property
    def salient_ratio(self) -> float:
        """salient / values (0 when nothing was quantized)."""
        return self.salient / self.values if self.values else 0.0


@contextmanager
def fake_quantized(
    model: torch.nn.Module,
    method: str,
    cfg: QuantConfig,
    *,
    layers: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    calibration: Mapping[str, NDArray[np.float32]] | None = None,
) -> Iterator[FakeQuantStats]:
    """Inside the ``with`` block, ``model``'s linear layers compute with ``method``.

    The selected linears (the extractor's selection: every ``nn.Linear`` and GPT-2 ``Conv1D``
    except ``lm_head``, or ``layers``/``exclude`` globs; see
    :func:`spikesim.trace.extract.find_linears`) get ŵ swapped into their weight and a forward
    pre-hook that replaces the input by x̂; for a method without an activation quantizer, a
    forward hook replaces the output by the integer path's dequantized output. Everything is
    restored on exit, also after an exception. Weights shared between modules (tied
    embeddings) change for all of them while the block runs. ``calibration`` (layer name →
    inputs ``[T, K]``) makes atom/spikellm channel choices static (module docstring).
    """
    import torch

    from spikesim.trace.extract import find_linears

    if method not in available_methods():
        raise InputError(f"unknown method {method!r}", field="methods")
    stats = FakeQuantStats()
    if method == "fp32":
        yield stats
        return
    sites = find_linears(model, layers, exclude)
    saved: list[tuple[Any, torch.Tensor]] = []
    handles: list[Any] = []

    def pre_hook(name: str) -> Callable[[Any, tuple[Any, ...]], tuple[Any, ...]]:
        def hook(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
            x = args[0]
            shape, k = x.shape, x.shape[-1]
            flat = x.detach().reshape(-1, k).to(torch.float32).cpu().numpy()
            if method == "fp16":
                xq, sal = flat.astype(np.float16).astype(np.float32), 0
            else:
                xq, sal = fake_quant_activations(flat, method, cfg)
            stats.values += flat.size
            stats.salient += sal
            counts = stats.per_layer.setdefault(name, [0, 0])
            counts[0] += flat.size
            counts[1] += sal
            new = torch.from_numpy(xq).to(dtype=x.dtype, device=x.device).reshape(shape)
            return (new, *args[1:])

        return hook

    def out_hook(name: str, op: str, transposed: bool) -> Callable[..., Any]:
        def hook(module: Any, args: tuple[Any, ...], output: Any) -> Any:
            x = args[0]
            k = x.shape[-1]
            flat = x.detach().reshape(-1, k).to(torch.float32).cpu().numpy()
            w = module.weight.detach().to(torch.float32)
            w_nk = np.ascontiguousarray((w.t() if transposed else w).cpu().numpy())
            calib = None if calibration is None else calibration.get(name)
            y, wide = _integer_output(name, op, flat, w_nk, method, cfg, calib)
            bias = getattr(module, "bias", None)
            if bias is not None:
                y = y + bias.detach().to(torch.float64).cpu().numpy()[None, :]
            stats.values += flat.size
            stats.salient += wide
            counts = stats.per_layer.setdefault(name, [0, 0])
            counts[0] += flat.size
            counts[1] += wide
            return (
                torch.from_numpy(y)
                .to(dtype=output.dtype, device=output.device)
                .reshape(output.shape)
            )

        return hook

    try:
        with torch.no_grad():
            for site in sites:
                if method == "fp16" or method in ACTIVATION_QUANTIZERS:
                    param = site.module.weight
                    saved.append((param, param.data))
                    w_nk = site.weight().to(torch.float32).cpu().numpy()
                    if method == "fp16":
                        wq = w_nk.astype(np.float16).astype(np.float32)
                    else:
                        wq = fake_quant_weights(w_nk, cfg)
                    new = torch.from_numpy(wq.T.copy() if site.transposed else wq)
                    param.data = new.to(dtype=param.dtype, device=param.device)
                    handles.append(site.module.register_forward_pre_hook(pre_hook(site.name)))
                else:
                    handles.append(
                        site.module.register_forward_hook(
                            out_hook(site.name, site.op, site.transposed)
                        )
                    )
                stats.layers += 1
        yield stats
    finally:
        for h in handles:
            h.remove()
        for param, data in reversed(saved):
            param.data = data


def record_inputs(
    model: torch.nn.Module,
    batches: Iterable[Any],
    *,
    tokens: int,
    layers: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> dict[str, NDArray[np.float32]]:
    """The first ``tokens`` input rows ``[T, K]`` (float32) of each selected linear on ``batches``.

    Used to calibrate atom/spikellm channel choices on the calibration text before an
    evaluation (see :func:`fake_quantized`).
    """
    import torch

    from spikesim.trace.extract import find_linears

    sites = find_linears(model, layers, exclude)
    rows: dict[str, list[NDArray[np.float32]]] = {s.name: [] for s in sites}

    def make(name: str) -> Callable[[Any, tuple[Any, ...]], None]:
        def hook(module: Any, args: tuple[Any, ...]) -> None:
            x = args[0]
            have = sum(a.shape[0] for a in rows[name])
            if have < tokens:
                flat = x.detach().reshape(-1, x.shape[-1]).to(torch.float32).cpu().numpy()
                rows[name].append(flat[: tokens - have].copy())

        return hook

    handles = [s.module.register_forward_pre_hook(make(s.name)) for s in sites]
    try:
        with torch.no_grad():
            for batch in batches:
                if isinstance(batch, Mapping):
                    model(**batch)
                else:
                    model(batch)
    finally:
        for h in handles:
            h.remove()
    return {n: np.concatenate(parts, axis=0) for n, parts in rows.items() if parts}
