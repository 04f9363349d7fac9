"""Traces from real models: record every linear layer's inputs and weights during forward passes.

Two entry points:

* :func:`extract_trace` — any ``torch.nn.Module`` and any iterable of inputs. Forward pre-hooks
  on the selected linear-like modules record each call's input, flattened to ``[tokens, K]``;
  after the last batch the layers are streamed one at a time into
  :func:`~spikesim.trace.format.write_trace` together with the weights ``[N, K]`` (and the bias
  ``b`` ``[N]`` when there is one).
* :func:`extract_model_trace` — a Hugging Face causal LM by directory, known name or hub id
  (see :mod:`spikesim.trace.models`), fed the first ``tokens`` tokens of a text (the built-in
  calibration sample by default). This is ``spikesim extract``.

Linear-like modules are ``torch.nn.Linear`` (and subclasses), weight ``[N, K]`` as stored, and
``transformers.pytorch_utils.Conv1D`` (GPT-2's projections, recognised by class name and its
``nf`` attribute, so transformers need not be imported), whose weight ``[K, N]`` is transposed
to ``[N, K]``. For every recorded layer ``y = x @ w.T (+ b)`` reproduces the module's output.

Layer names are the module names without the model's ``base_model_prefix``
(``model.layers.0.self_attn.q_proj`` → ``layers.0.self_attn.q_proj``, as in synthetic traces;
GPT-2 gives ``h.0.attn.c_attn``, OPT ``decoder.layers.0.self_attn.q_proj``); ``op`` is the last
component. Include and exclude patterns are shell globs (:mod:`fnmatch`) matched against both the
short and the full module name. **``lm_head`` is excluded by default** (it is the vocabulary
projection, not a decoder linear, and by far the largest layer of a small model); name it in
``layers`` to record it.

Memory: the recorded activations are held in RAM until written, in the trace dtype, about
``tokens × ΣK × 2`` bytes for float16 (an input shared by several layers, e.g. q/k/v_proj, is
stored once). torch is imported only when these functions run.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spikesim.errors import InputError
from spikesim.trace.format import (
    ExtraTensors,
    LayerTensors,
    Trace,
    with_extra_tensors,
    write_trace,
)

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_EXCLUDE",
    "DEFAULT_SEQ_LEN",
    "DEFAULT_TOKENS",
    "LinearSite",
    "extract_model_trace",
    "extract_trace",
    "find_linears",
    "token_batches",
]

DEFAULT_EXCLUDE = ("lm_head",)
"""Excluded unless named by an include pattern: the vocabulary projection."""

DEFAULT_TOKENS = 256
"""Calibration tokens of ``spikesim extract`` (rows of every layer's ``x``)."""

DEFAULT_SEQ_LEN = 256
"""Longest sequence fed to the model at once (capped by its context length)."""

_DTYPES = ("float16", "float32")
_FP16_MAX = float(np.finfo(np.float16).max)


@dataclass(frozen=True)
class LinearSite:
    """One linear-like module of a model.

    Attributes
    ----------
    name:
        Layer name in the trace (module name without the base-model prefix).
    full_name:
        Module name as ``model.named_modules()`` gives it.
    op:
        Last component of the name (``q_proj``, ``c_attn``, ``fc1`` …).
    module:
        The module.
    transposed:
        True for ``Conv1D`` (weight stored ``[K, N]``).
    """

    name: str
    full_name: str
    op: str
    module: Any
    transposed: bool

    def weight(self) -> torch.Tensor:
        """The weight as ``[N, K]`` (a detached view)."""
        w = self.module.weight.detach()
        return w.t() if self.transposed else w

    def bias(self) -> torch.Tensor | None:
        b = getattr(self.module, "bias", None)
        return None if b is None else b.detach()


def _is_conv1d(module: Any) -> bool:
    weight = getattr(module, "weight", None)
    return (
        type(module).__name__ == "Conv1D"
        and hasattr(module, "nf")
        and weight is not None
        and weight.ndim == 2
    )


def _matches(patterns: Sequence[str], *names: str) -> bool:
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names)


def effective_exclude(
    layers: Sequence[str] | None, exclude: Sequence[str] | None
) -> list[str]:
    """``exclude`` plus :data:`DEFAULT_EXCLUDE`, unless an include pattern names the default."""
    excluded = list(exclude or ())
    for default in DEFAULT_EXCLUDE:
        if not (layers and any(default in p for p in layers)):
            excluded.append(default)
    return excluded


def find_linears(
    model: torch.nn.Module,
    layers: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
) -> list[LinearSite]:
    """The selected linear-like modules of ``model``, in module order.

    Parameters
    ----------
    layers:
        Include patterns (globs on the short or the full name); None selects every linear.
    exclude:
        Exclude patterns, applied after ``layers``. :data:`DEFAULT_EXCLUDE` (``lm_head``) is
        always added unless an include pattern names it.

    Raises
    ------
    InputError
        ``field="layers"`` if nothing is selected.
    """
    import torch

    prefix = getattr(model, "base_model_prefix", "") or ""
    excluded = effective_exclude(layers, exclude)
    sites: list[LinearSite] = []
    candidates: list[str] = []
    for full, module in model.named_modules():
        if isinstance(module, torch.nn.Linear):
            transposed = False
        elif _is_conv1d(module):
            transposed = True
        else:
            continue
        short = full[len(prefix) + 1 :] if prefix and full.startswith(prefix + ".") else full
        candidates.append(short)
        if layers is not None and not _matches(layers, short, full):
            continue
        if _matches(excluded, short, full):
            continue
        sites.append(LinearSite(short, full, short.rsplit(".", 1)[-1], module, transposed))
    if not sites:
        sample = ", ".join(candidates[:6]) + (" …" if len(candidates) > 6 else "")
        raise InputError(
            f"no linear layer matches (include {list(layers) if layers else 'all'}, exclude "
            f"{excluded}); the model's linears are: {sample or 'none'}",
            field="layers",
        )
    return sites


def _to_numpy(t: torch.Tensor, dtype: str) -> tuple[np.ndarray, int]:
    """``t`` as a 2-D numpy array of ``dtype``; float16 clips to its finite range.

    Returns the array and the number of values that were clipped.
    """
    import torch

    x = t.detach().to(device="cpu", dtype=torch.float32)
    clipped = 0
    if dtype == "float16":
        over = x.abs() > _FP16_MAX
        clipped = int(over.sum())
        if clipped:
            x = x.clamp(-_FP16_MAX, _FP16_MAX)
        return x.to(torch.float16).numpy(), clipped
    return x.numpy().copy(), 0


def _progress(total: int | None, desc: str, enabled: bool) -> Any:
    """A tqdm bar on stderr (or a no-op) — tqdm comes with transformers."""
    if enabled:
        try:
            from tqdm.auto import tqdm

            return tqdm(
                total=total,
                desc=desc,
                unit="batch" if "forward" in desc else "layer",
                file=sys.stderr,
                leave=False,
            )
        except ImportError:
            pass

    class _Null:
        def update(self, n: int = 1) -> None:
            pass

        def close(self) -> None:
            pass

    return _Null()


def extract_trace(
    model: torch.nn.Module,
    token_batches: Iterable[Any],
    out: str | os.PathLike[str],
    *,
    name: str | None = None,
    layers: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    dtype: str = "float16",
    source: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    extra: ExtraTensors | None = None,
) -> Trace:
    """Run ``model`` on ``token_batches`` and write the trace of its linear layers to ``out``.

    Parameters
    ----------
    model:
        Any ``torch.nn.Module``. It is run under ``torch.no_grad()`` as it is (call
        ``model.eval()`` first if it has dropout).
    token_batches:
        Inputs, one per forward pass: a tensor is passed positionally (``model(t)``), a mapping
        as keyword arguments (``model(**m)``).
    out:
        Trace directory (written atomically; an existing trace is replaced).
    name:
        Trace name (default: the directory name).
    layers, exclude:
        Include / exclude glob patterns (see :func:`find_linears`; ``lm_head`` excluded by
        default).
    dtype:
        ``"float16"`` (default; values beyond ±65504 are clipped and counted in the manifest) or
        ``"float32"``.
    source:
        Extra provenance merged into the manifest's ``source`` (model id, text, command …).
    progress:
        Show tqdm bars on stderr; None (default) shows them only when stderr is a terminal.
    extra:
        Tensors computed from each layer's ``x`` and ``w`` and stored beside them (see
        :func:`~spikesim.trace.format.with_extra_tensors`), e.g. a method's integers.

    Returns
    -------
    Trace
        The written trace. Every layer has ``x`` ``[tokens, K]``, ``w`` ``[N, K]`` in ``dtype``
        and, when the module has a bias, ``b`` ``[N]`` float32. ``tokens`` is the total over
        all batches (every selected module must see the same number).

    Raises
    ------
    InputError
        Bad ``dtype``, no selected layer, a selected layer never called or called with
        different token counts, NaN/Inf, or an unwritable ``out``.
    """
    import torch

    if dtype not in _DTYPES:
        raise InputError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}", field="dtype")
    show = sys.stderr.isatty() if progress is None else progress
    sites = find_linears(model, layers, exclude)
    recorded: dict[str, list[np.ndarray]] = {s.name: [] for s in sites}
    clipped = [0]
    # One batch's converted inputs, keyed by storage, shape, stride and version counter; the
    # tensor is kept alive so its memory cannot be reused by another input within the batch.
    shared: dict[tuple[int, tuple[int, ...], tuple[int, ...], int], tuple[Any, np.ndarray]] = {}

    def make_hook(site: LinearSite) -> Any:
        def hook(module: Any, args: tuple[Any, ...]) -> None:
            x = args[0]
            k = x.shape[-1]
            key = (x.data_ptr(), tuple(x.shape), tuple(x.stride()), x._version)
            hit = shared.get(key)
            if hit is None:  # inputs shared by several layers (q/k/v) are converted once
                arr, n_clip = _to_numpy(x.reshape(-1, k), dtype)
                clipped[0] += n_clip
                shared[key] = (x, arr)
            else:
                arr = hit[1]
            recorded[site.name].append(arr)

        return hook

    handles = [s.module.register_forward_pre_hook(make_hook(s)) for s in sites]
    batches = 0
    bar = _progress(None, "extract: forward", show)
    try:
        with torch.no_grad():  # not inference_mode: the hooks read tensor version counters
            for batch in token_batches:
                shared.clear()
                if isinstance(batch, Mapping):
                    model(**batch)
                else:
                    model(batch)
                batches += 1
                bar.update(1)
    finally:
        bar.close()
        for h in handles:
            h.remove()
        shared.clear()
    if batches == 0:
        raise InputError("no input batches given", field="token_batches")
    counts = {n: sum(a.shape[0] for a in arrs) for n, arrs in recorded.items()}
    never = [n for n, c in counts.items() if c == 0]
    if never:
        raise InputError(
            f"selected layer(s) never called during the forward pass: {', '.join(never[:5])} "
            "(exclude them)",
            field="layers",
        )
    tokens = counts[sites[0].name]
    uneven = {n: c for n, c in counts.items() if c != tokens}
    if uneven:
        first = next(iter(uneven))
        raise InputError(
            f"layer {first!r} saw {uneven[first]} tokens but {sites[0].name!r} saw {tokens} "
            "(a trace has one token count; exclude layers that run on fewer tokens)",
            field="layers",
        )

    meta: dict[str, Any] = {
        "kind": "model",
        "model_class": type(model).__name__,
        **dict(source or {}),
        "dtype": dtype,
        "tokens": tokens,
        "batches": batches,
        "layers_include": list(layers) if layers is not None else None,
        "layers_exclude": effective_exclude(layers, exclude),
        "lm_head": (
            "recorded (named in --layers)"
            if "lm_head" not in effective_exclude(layers, exclude)
            else "lm_head excluded by default (name it in --layers to record it)"
        ),
        "clipped_to_float16": clipped[0],
        "extractor": "spikesim.trace.extract",
        "torch": torch.__version__,
    }
    try:
        import transformers as _tf

        meta["transformers"] = _tf.__version__
    except ImportError:  # pragma: no cover - plain nn.Module without transformers
        pass

    def generate() -> Iterator[LayerTensors]:
        bar = _progress(len(sites), "extract: write", show)
        try:
            for site in sites:
                parts = recorded.pop(site.name)
                x = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
                del parts
                w, n_clip = _to_numpy(site.weight(), dtype)
                clipped[0] += n_clip
                tensors: dict[str, np.ndarray] = {"x": x, "w": w}
                b = site.bias()
                if b is not None:
                    tensors["b"] = b.to(device="cpu", dtype=torch.float32).numpy().copy()
                yield LayerTensors(name=site.name, op=site.op, tensors=tensors)
                bar.update(1)
        finally:
            bar.close()

    target = Path(out)
    return write_trace(
        target, name=name or target.name, source=meta, layers=with_extra_tensors(generate(), extra)
    )


def token_batches(ids: Sequence[int], *, tokens: int, seq_len: int, batch: int) -> list[Any]:
    """Split the first ``tokens`` ids into sequences of ``seq_len`` and batches of ``batch``.

    Each batch is a dict ``{"input_ids": LongTensor [B, L], "use_cache": False}``; the last
    sequence may be shorter and then forms a batch of its own.
    """
    import torch

    ids = list(ids[:tokens])
    seqs = [ids[i : i + seq_len] for i in range(0, len(ids), seq_len)]
    full = [s for s in seqs if len(s) == seq_len]
    rest = [s for s in seqs if len(s) != seq_len]
    out: list[Any] = []
    for i in range(0, len(full), batch):
        out.append(
            {"input_ids": torch.tensor(full[i : i + batch], dtype=torch.long), "use_cache": False}
        )
    for s in rest:
        out.append({"input_ids": torch.tensor([s], dtype=torch.long), "use_cache": False})
    return out


def context_length(model: Any) -> int | None:
    """The model's maximum sequence length from its config, if it states one."""
    config = getattr(model, "config", None)
    for attr in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def tokenize(tokenizer: Any, text: str) -> list[int]:
    """Token ids of ``text`` (the tokenizer's default special tokens included)."""
    ids = tokenizer(text)["input_ids"]
    return [int(i) for i in ids]


def _positive(value: int, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InputError(f"must be a positive integer, got {value!r}", field=field)
    return value


def resolve_seq_len(model: Any, tokens: int, seq_len: int | None) -> int:
    """``seq_len`` checked against the model's context (default min(tokens, 256, context))."""
    ctx = context_length(model)
    if seq_len is None:
        seq_len = min(tokens, DEFAULT_SEQ_LEN, ctx or DEFAULT_SEQ_LEN)
    _positive(seq_len, "seq_len")
    if ctx is not None and seq_len > ctx:
        raise InputError(f"{seq_len} exceeds the model's context length {ctx}", field="seq_len")
    return seq_len


def extract_model_trace(
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    text: str | os.PathLike[str] | None = None,
    tokens: int = DEFAULT_TOKENS,
    layers: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    batch: int = 1,
    seq_len: int | None = None,
    dtype: str = "float16",
    name: str | None = None,
    command: Sequence[str] | None = None,
    progress: bool | None = None,
    extra: ExtraTensors | None = None,
    source_extra: Mapping[str, Any] | None = None,
) -> Trace:
    """Extract a trace from a Hugging Face causal LM (``spikesim extract``).

    Parameters
    ----------
    model:
        Directory, known name (``smollm2-135m``) or hub id (see :mod:`spikesim.trace.models`).
    out:
        Trace directory to write.
    text:
        UTF-8 text file; default the built-in calibration sample.
    tokens:
        Tokens to trace (the first ``tokens`` of the text; the text must have that many).
    layers, exclude:
        Glob patterns (see :func:`find_linears`).
    batch:
        Sequences per forward pass.
    seq_len:
        Tokens per sequence (default min(tokens, 256, context length)).
    dtype:
        ``float16`` or ``float32`` on disk (the model itself runs in float32).
    name:
        Trace name (default: the directory name).
    command:
        The command line, recorded in the manifest.
    progress:
        tqdm bars on stderr (None: only on a terminal).
    extra, source_extra:
        Tensors stored beside ``x`` and ``w`` (``--method``) and their manifest note.

    Raises
    ------
    InputError
        Naming the parameter at fault (``model``, ``text``, ``tokens`` …).
    """
    from spikesim.trace.models import load_causal_lm
    from spikesim.trace.text import read_text

    _positive(tokens, "tokens")
    _positive(batch, "batch")
    if dtype not in _DTYPES:
        raise InputError(f"must be one of {', '.join(_DTYPES)}, got {dtype!r}", field="dtype")
    src = read_text(text, builtin="calibration")
    loaded = load_causal_lm(model, progress=bool(progress))
    ids = tokenize(loaded.tokenizer, src.text)
    if len(ids) < tokens:
        raise InputError(
            f"the text ({src.label}) has {len(ids)} tokens, fewer than the {tokens} asked for",
            field="tokens",
        )
    length = resolve_seq_len(loaded.model, tokens, seq_len)
    source: dict[str, Any] = {
        **loaded.info,
        "text": {"source": src.label, "sha256": src.sha256, "tokens_in_text": len(ids)},
        "batch": batch,
        "seq_len": length,
        "command": shlex.join(command) if command is not None else None,
        **dict(source_extra or {}),
    }
    return extract_trace(
        loaded.model,
        token_batches(ids, tokens=tokens, seq_len=length, batch=batch),
        out,
        name=name,
        layers=layers,
        exclude=exclude,
        dtype=dtype,
        source=source,
        progress=progress,
        extra=extra,
    )
