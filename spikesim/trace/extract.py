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

Attention and decode (:mod:`spikesim.trace.recording`, stored as :mod:`spikesim.trace.recorded`
describes): ``attention=True`` also records, for every decoder block with a selected linear,
the q and k (after RoPE) and v of every head and position; ``decode_steps=N`` continues the
prompt's forward pass (one batch of equal sequences) with N greedy steps on the KV cache,
recording each step's linear inputs (one row per sequence; the weights are the prefill
layer's) and, with attention, the new token's q, k, v. The trace's workload then holds the
attention matmuls of those blocks and the decode steps (``decode.{s}.…``, phase ``decode``),
built as a named shape's are.

Memory: the recorded activations are held in RAM until written, in the trace dtype, about
``tokens × ΣK × 2`` bytes for float16 (an input shared by several layers, e.g. q/k/v_proj, is
stored once), plus ``positions × (H + 2G) × d × 2`` per recorded attention block. torch is
imported only when these functions run.
"""

from __future__ import annotations

import fnmatch
import os
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spikesim.errors import InputError
from spikesim.trace.format import (
    ExtraTensors,
    LayerTensors,
    Trace,
    TraceSection,
    with_extra_tensors,
    write_trace,
)
from spikesim.trace.recorded import attention_section, decode_section
from spikesim.trace.recording import AttentionRecorder, find_attention, greedy_decode

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
    attention: bool = False,
    decode_steps: int | None = None,
    token_text: Callable[[Sequence[int]], str] | None = None,
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
    attention:
        Also record q, k (after RoPE) and v of every head of each decoder block that has a
        selected linear (LLaMA-style attention; :mod:`spikesim.trace.recording`).
    decode_steps:
        Greedy decode steps after the prompt (None: none). Needs one batch, a mapping with
        ``input_ids`` ``[S, T]``; each step's linear inputs (``[S, K]``) are recorded.
    token_text:
        Renders the generated token ids as text for the manifest's ``source`` (a tokenizer's
        ``decode``).

    Returns
    -------
    Trace
        The written trace. Every layer has ``x`` ``[tokens, K]``, ``w`` ``[N, K]`` in ``dtype``
        and, when the module has a bias, ``b`` ``[N]`` float32. ``tokens`` is the total over
        all batches of the prompt (every selected module must see the same number). With
        ``attention`` or ``decode_steps`` the manifest has the sections of
        :mod:`spikesim.trace.recorded` and the trace's layers include the attention matmuls
        and the decode steps.

    Raises
    ------
    InputError
        Bad ``dtype`` or ``decode_steps``, no selected layer, a selected layer never called or
        called with different token counts, NaN/Inf, an unwritable ``out``; ``attention`` on a
        model whose attention is not found or not reproduced (field ``attention``).
    """
    import torch

    if dtype not in _DTYPES:
        raise InputError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}", field="dtype")
    steps = 0 if decode_steps is None else _positive(decode_steps, "decode_steps")
    show = sys.stderr.isatty() if progress is None else progress
    sites = find_linears(model, layers, exclude)
    clipped = [0]

    def convert(t: torch.Tensor) -> np.ndarray:
        arr, n_clip = _to_numpy(t, dtype)
        clipped[0] += n_clip
        return arr

    recorders = [AttentionRecorder(site, convert)
                 for site in find_attention(model, [s.name for s in sites])] if attention else []
    inputs: Iterable[Any] = _one_batch(token_batches) if steps else token_batches
    recorded: dict[str, list[np.ndarray]] = {s.name: [] for s in sites}
    decoded: dict[str, list[np.ndarray]] = {s.name: [] for s in sites}
    target = [recorded]  # the hooks append here: the prompt's inputs, then the decode steps'
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
                arr = convert(x.reshape(-1, k))
                shared[key] = (x, arr)
            else:
                arr = hit[1]
            target[0][site.name].append(arr)

        return hook

    handles = [s.module.register_forward_pre_hook(make_hook(s)) for s in sites]
    handles += [h for r in recorders for h in r.attach()]
    batches = 0
    token_ids: list[list[int]] = []
    bar = _progress(None, "extract: forward", show)
    try:
        with torch.no_grad():  # not inference_mode: the hooks read tensor version counters
            for batch in inputs:
                shared.clear()
                if steps:
                    output = model(**{**batch, "use_cache": True})
                elif isinstance(batch, Mapping):
                    model(**batch)
                else:
                    model(batch)
                batches += 1
                bar.update(1)
            if steps:
                target[0] = decoded
                for r in recorders:
                    r.phase = "decode"
                token_ids = greedy_decode(model, batch, output, steps, shared.clear)
    finally:
        bar.close()
        for h in handles:
            h.remove()
        shared.clear()
    if batches == 0:
        raise InputError("no input batches given", field="token_batches")
    tokens = _prompt_tokens(sites, recorded)
    sections = _sections(recorders, sites, decoded, token_ids)

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
        **_recorded_source(recorders, token_ids, tokens, token_text),
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

    target_dir = Path(out)
    return write_trace(
        target_dir,
        name=name or target_dir.name,
        source=meta,
        layers=with_extra_tensors(generate(), extra),
        sections=sections,
    )


def _prompt_tokens(sites: Sequence[LinearSite], recorded: Mapping[str, list[np.ndarray]]) -> int:
    """The prompt's token count, which every selected layer must have seen."""
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
    return tokens


def _one_batch(token_batches: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The one batch a decode continues (a mapping with ``input_ids``)."""
    batches = list(token_batches)
    if len(batches) != 1 or not isinstance(batches[0], Mapping) or "input_ids" not in batches[0]:
        raise InputError(
            f"decode steps continue one forward pass, got {len(batches)} batch(es): give one "
            "batch of input_ids (spikesim extract: --tokens at most --seq-len x --batch, in "
            "sequences of one length)",
            field="decode_steps",
        )
    return batches


def _sections(
    recorders: Sequence[AttentionRecorder],
    sites: Sequence[LinearSite],
    decoded: Mapping[str, list[np.ndarray]],
    token_ids: list[list[int]],
) -> list[TraceSection]:
    """The manifest sections of the recorded attention operands and decode steps."""
    sections: list[TraceSection] = []
    if recorders:
        sequences, length = recorders[0].sequences()
        dims = {(r.site.heads, r.site.kv_heads, r.site.head_dim) for r in recorders}
        if len(dims) != 1:
            raise InputError("the recorded blocks' attention dimensions differ",
                             field="attention")
        heads, kv_heads, head_dim = dims.pop()
        sections.append(attention_section(
            heads=heads, kv_heads=kv_heads, head_dim=head_dim, sequences=sequences,
            prefill_tokens=length,
            blocks=((r.site.block, r.site.name, r.tensors()) for r in recorders),
        ))
    if token_ids:
        steps = len(token_ids[0])
        rows = steps * len(token_ids)
        for site in sites:
            got = sum(a.shape[0] for a in decoded[site.name])
            if got != rows:
                raise InputError(
                    f"layer {site.name!r} saw {got} decode rows, not {rows} (steps x "
                    "sequences); exclude it",
                    field="layers",
                )
        sections.append(decode_section(
            steps=steps, sequences=len(token_ids), token_ids=token_ids,
            inputs=((s.name, np.concatenate(decoded[s.name], axis=0)) for s in sites),
        ))
    return sections


def _recorded_source(
    recorders: Sequence[AttentionRecorder],
    token_ids: list[list[int]],
    tokens: int,
    token_text: Callable[[Sequence[int]], str] | None,
) -> dict[str, Any]:
    """The manifest ``source`` entries of the recorded parts: which attention blocks, the
    decode steps (and their text) and, with decode, the phases the report splits by
    (:meth:`spikesim.trace.model_plan.PhasePlan.source`)."""
    out: dict[str, Any] = {}
    if recorders:
        out["attention"] = {
            "blocks": [r.site.block for r in recorders],
            "recorded": "q and k after RoPE, v; every head and position (section 'attention')",
        }
    if token_ids:
        sequences, steps = len(token_ids), len(token_ids[0])
        out["decode"] = {
            "steps": steps,
            "strategy": "greedy, with the KV cache",
            "text": [token_text(row) for row in token_ids] if token_text else None,
        }
        out["phases"] = {
            "phase": "both", "batch": sequences, "tokens": tokens // sequences,
            "context": tokens // sequences, "decode_steps": steps, "prefill_tokens": tokens,
            "generated_tokens": sequences * steps,
        }
    return out


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


def _check_decode(model: Any, tokens: int, length: int, batch: int, steps: int) -> None:
    """Refuse (field ``decode_steps``) a prompt that is not one forward pass of equal
    sequences, or sequences that the steps would take past the model's context."""
    sequences = -(-tokens // length)
    if tokens % length or sequences > batch:
        raise InputError(
            f"decode steps continue one forward pass of equal sequences, but {tokens} tokens "
            f"in sequences of {length} (batch {batch}) take {sequences} sequence(s)"
            f"{' of different lengths' if tokens % length else ' in several passes'}: give "
            "--tokens a multiple of --seq-len and at most --seq-len x --batch",
            field="decode_steps",
        )
    ctx = context_length(model)
    if ctx is not None and length + steps > ctx:
        raise InputError(
            f"{length} prompt tokens + {steps} steps exceed the model's context length {ctx}",
            field="decode_steps",
        )


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
    attention: bool = False,
    decode_steps: int | None = None,
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
    attention:
        Also record the attention operands (``--attention``; see :func:`extract_trace`).
    decode_steps:
        Greedy decode steps after the prompt (``--decode-steps``): the prompt must be one
        forward pass (``tokens`` a multiple of ``seq_len``, at most ``seq_len × batch``), and
        the sequences plus the steps must fit the model's context.

    Raises
    ------
    InputError
        Naming the parameter at fault (``model``, ``text``, ``tokens``, ``decode_steps``,
        ``attention`` …).
    """
    from spikesim.trace.models import load_causal_lm
    from spikesim.trace.text import read_text

    _positive(tokens, "tokens")
    _positive(batch, "batch")
    if decode_steps is not None:
        _positive(decode_steps, "decode_steps")
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
    if decode_steps is not None:
        _check_decode(loaded.model, tokens, length, batch, decode_steps)
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
        attention=attention,
        decode_steps=decode_steps,
        token_text=loaded.tokenizer.decode,
    )
