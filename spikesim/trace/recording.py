"""Recording a causal LM's attention operands and greedy decode steps during extraction (torch).

Used by :func:`spikesim.trace.extract.extract_trace` (``--attention``, ``--decode-steps``); what
is stored and how a trace's workload reads it back is :mod:`spikesim.trace.recorded`.

Attention (LLaMA-style modules: Llama, Mistral, SmolLM2, Qwen2 …)
----------------------------------------------------------------
The attention module of a decoder block is the block's child that has ``q_proj``, ``k_proj``,
``v_proj`` and ``o_proj`` linears and a ``head_dim``, and whose model file defines
``apply_rotary_pos_emb`` (Hugging Face's form). For every call, hooks take the outputs of
``q_proj``, ``k_proj``, ``v_proj`` and the ``position_embeddings`` (cos, sin) the block passes
to the module, and apply the model's own ``apply_rotary_pos_emb`` to q and k: exactly the q and
k the module attends with. v is ``v_proj``'s output. Shapes per call: q ``[B, T, H, d]``, k
and v ``[B, T, G, d]``.

Checked, not assumed: on its first call each module's recorded operands must reproduce the
module's attention output (the input of ``o_proj``) on the last rows of the first sequence,
softmax(q kᵀ / sqrt(d), causal) v in float64, to 1e-3 of its largest value. A model whose
attention differs (another score scale, a norm on q or k, a window, ALiBi …) is refused
(:class:`InputError` naming ``attention``) rather than recorded wrong.

Decode
------
After the prompt's one forward pass (with the KV cache), each step feeds every sequence's
greedy token (the argmax of the last logits) at the next position, with the cache; the hooks
record each step's linear inputs and, with attention, the new token's q, k, v.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from spikesim.errors import InputError
from spikesim.trace.recorded import QKV_OPS, block_of

if TYPE_CHECKING:
    import torch

__all__ = ["AttentionRecorder", "AttentionSite", "find_attention", "greedy_decode"]

CHECK_ROWS = 8
"""Query rows of the first sequence checked against the module's output (the last ones)."""

CHECK_TOLERANCE = 1e-3
"""Largest error allowed in that check, relative to the output's largest magnitude."""

Convert = Callable[["torch.Tensor"], np.ndarray]
"""A tensor to the trace's dtype on the CPU (float16 clipped and counted by the caller)."""


@dataclass(frozen=True)
class AttentionSite:
    """The attention module of one decoder block.

    Attributes
    ----------
    block:
        Decoder block index.
    name:
        Module name without the model's base prefix (``layers.15.self_attn``).
    module:
        The module.
    heads, kv_heads, head_dim:
        H query heads, G key/value heads, d channels per head.
    rotary:
        The model file's ``apply_rotary_pos_emb(q, k, cos, sin)``.
    """

    block: int
    name: str
    module: Any
    heads: int
    kv_heads: int
    head_dim: int
    rotary: Callable[..., Any]


def _refuse(message: str) -> InputError:
    return InputError(message, field="attention")


def _site(block: int, short: str, module: Any) -> AttentionSite:
    """The attention child of decoder block ``module`` (named ``short``)."""
    import torch

    found = [
        (name, child) for name, child in module.named_children()
        if all(isinstance(getattr(child, p, None), torch.nn.Linear)
               for p in (*QKV_OPS, "o_proj"))
    ]
    if len(found) != 1:
        raise _refuse(
            f"no LLaMA-style attention found in block {short!r} ({type(module).__name__}): "
            "recording attention needs a child with q_proj, k_proj, v_proj and o_proj"
        )
    name, attn = found[0]
    d = getattr(attn, "head_dim", None)
    rotary = getattr(sys.modules.get(type(attn).__module__), "apply_rotary_pos_emb", None)
    if not isinstance(d, int) or d < 2 or d % 2 or not callable(rotary):
        raise _refuse(
            f"attention {short}.{name} ({type(attn).__name__}) has no even head_dim or its "
            "model has no apply_rotary_pos_emb (RoPE): only LLaMA-style attention is recorded"
        )
    q_out, kv_out = attn.q_proj.out_features, attn.k_proj.out_features
    if q_out % d or kv_out % d or (q_out // d) % max(1, kv_out // d):
        raise _refuse(f"attention {short}.{name}: q ({q_out}) and k ({kv_out}) widths are not "
                      f"heads x head_dim ({d}) with heads a multiple of kv_heads")
    return AttentionSite(block, f"{short}.{name}", attn, q_out // d, kv_out // d, d, rotary)


def find_attention(model: Any, linear_names: Sequence[str]) -> list[AttentionSite]:
    """The attention modules of every decoder block that has one of ``linear_names`` (short
    names of the recorded linears), in block order.

    Raises
    ------
    InputError
        ``field="attention"``: a linear outside a numbered block, or a block with no
        LLaMA-style attention (see the module docstring).
    """
    prefix = getattr(model, "base_model_prefix", "") or ""
    modules = dict(model.named_modules())
    blocks: dict[int, str] = {}
    for name in linear_names:
        block = block_of(name)
        if block is None:
            raise _refuse(f"layer {name!r} belongs to no numbered decoder block")
        parts = name.split(".")
        at = max(i for i, part in enumerate(parts) if part == str(block))
        blocks.setdefault(block, ".".join(parts[: at + 1]))
    sites = []
    for block, short in sorted(blocks.items()):
        full = f"{prefix}.{short}" if prefix and f"{prefix}.{short}" in modules else short
        if full not in modules:
            raise _refuse(f"decoder block {short!r} is not a module of the model")
        sites.append(_site(block, short, modules[full]))
    return sites


def _check_output(site: AttentionSite, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                  out: torch.Tensor) -> None:
    """Refuse unless softmax(q kᵀ / sqrt(d)) v (causal) is the module's output ``out``
    ``[B, T, H·d]`` on the last :data:`CHECK_ROWS` rows of sequence 0 (float64)."""
    import torch

    tokens = q.shape[1]
    rows = torch.arange(max(0, tokens - CHECK_ROWS), tokens)
    per_group = site.heads // site.kv_heads
    qr = q[0, rows].double()  # [R, H, d]
    kr = k[0].double().repeat_interleave(per_group, dim=1)  # [T, H, d]
    vr = v[0].double().repeat_interleave(per_group, dim=1)
    scores = torch.einsum("rhd,thd->rht", qr, kr) * site.head_dim**-0.5
    masked = torch.arange(tokens)[None, :] > rows[:, None]  # [R, T]
    scores = scores.masked_fill(masked[:, None, :], float("-inf"))
    got = torch.einsum("rht,thd->rhd", torch.softmax(scores, dim=-1), vr)
    want = out[0, rows].double().reshape(got.shape)
    error = float((got - want).abs().max())
    scale = max(float(want.abs().max()), 1e-3)
    if error > CHECK_TOLERANCE * scale:
        raise _refuse(
            f"the recorded q, k, v of {site.name} do not reproduce its attention output "
            f"(largest error {error:.3g} of {scale:.3g}): its attention is not the "
            "causal softmax(q k^T / sqrt(head_dim)) v that spikesim records"
        )


class AttentionRecorder:
    """Hooks on one attention module that keep q, k (after RoPE) and v of each call, converted
    by ``convert``: prefill calls and decode steps apart (:attr:`phase`)."""

    def __init__(self, site: AttentionSite, convert: Convert) -> None:
        self.site = site
        self.convert = convert
        self.phase = "prefill"
        self.calls: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
            "prefill": [], "decode": []
        }
        self._seen: dict[str, Any] = {}
        self._checked = False

    def attach(self) -> list[Any]:
        """Register the hooks; the handles to remove."""
        attn = self.site.module

        def keep(key: str) -> Callable[..., None]:
            def hook(module: Any, args: Any, output: Any) -> None:
                self._seen[key] = output.detach()
            return hook

        def before(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            self._seen = {"pe": kwargs.get("position_embeddings",
                                           args[1] if len(args) > 1 else None)}

        def o_input(module: Any, args: tuple[Any, ...]) -> None:
            self._seen["o"] = args[0].detach()

        def after(module: Any, args: Any, output: Any) -> None:
            self._record()

        return [
            attn.register_forward_pre_hook(before, with_kwargs=True),
            *(getattr(attn, p).register_forward_hook(keep(p)) for p in QKV_OPS),
            attn.o_proj.register_forward_pre_hook(o_input),
            attn.register_forward_hook(after),
        ]

    def _record(self) -> None:
        seen, site = self._seen, self.site
        pe = seen.get("pe")
        if not (isinstance(pe, tuple | list) and len(pe) == 2) or any(p not in seen
                                                                     for p in QKV_OPS):
            raise _refuse(f"{site.name} was not called with position_embeddings (cos, sin) "
                          "and its q/k/v projections: not LLaMA-style attention")
        d = site.head_dim
        q, k, v = (seen[p] for p in QKV_OPS)
        b, t = q.shape[0], q.shape[1]
        q_heads = q.reshape(b, t, -1, d).transpose(1, 2)
        k_heads = k.reshape(b, t, -1, d).transpose(1, 2)
        q_rot, k_rot = site.rotary(q_heads, k_heads, pe[0], pe[1])
        q_rot, k_rot = q_rot.transpose(1, 2), k_rot.transpose(1, 2)  # [B, T, heads, d]
        v_heads = v.reshape(b, t, -1, d)
        if not self._checked and "o" in seen:
            _check_output(site, q_rot, k_rot, v_heads, seen["o"])
            self._checked = True
        self.calls[self.phase].append(
            (self.convert(q_rot), self.convert(k_rot), self.convert(v_heads))
        )
        self._seen = {}

    def sequences(self) -> tuple[int, int]:
        """(S, T): sequences and prompt tokens per sequence over the prefill calls.

        Raises
        ------
        InputError
            ``field="attention"`` if the sequences differ in length.
        """
        lengths = {q.shape[1] for q, _, _ in self.calls["prefill"]}
        if len(lengths) != 1:
            raise _refuse(
                f"the prompt's sequences have different lengths ({sorted(lengths)}): recording "
                "attention needs sequences of one length (tokens a multiple of seq_len)"
            )
        return sum(q.shape[0] for q, _, _ in self.calls["prefill"]), lengths.pop()

    def tensors(self) -> dict[str, np.ndarray]:
        """``q`` ``[S, P, H, d]``, ``k`` and ``v`` ``[S, P, G, d]``: the prompt's positions,
        then each decode step's."""
        out: dict[str, np.ndarray] = {}
        for i, name in enumerate(("q", "k", "v")):
            prompt = np.concatenate([c[i] for c in self.calls["prefill"]], axis=0)
            out[name] = np.concatenate([prompt, *(c[i] for c in self.calls["decode"])], axis=1)
        return out


def _cache_keyword(model: Any) -> str:
    """The keyword the model's forward takes its KV cache by: ``cache`` (transformers 5.2x)
    or ``past_key_values`` (earlier)."""
    try:
        names = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - a forward without a signature
        return "past_key_values"
    return "cache" if "cache" in names else "past_key_values"


def greedy_decode(model: Any, batch: Mapping[str, Any], output: Any, steps: int,
                  before_step: Callable[[], None]) -> list[list[int]]:
    """Run ``steps`` greedy decode steps after the prompt pass that gave ``output`` (which
    must carry ``logits`` and the KV cache, ``cache`` or ``past_key_values``): each step feeds
    every sequence's argmax token at the next position with the cache. Returns each
    sequence's fed token ids, ``[S][steps]``.

    Raises
    ------
    InputError
        ``field="decode_steps"`` if the model returns no logits or no cache.
    """
    import torch

    def parts(out: Any) -> tuple[torch.Tensor, Any]:
        logits = getattr(out, "logits", None)
        cache = getattr(out, "cache", None)
        if cache is None:
            cache = getattr(out, "past_key_values", None)
        if logits is None or cache is None:
            raise InputError("the model returns no logits or KV cache to decode from",
                             field="decode_steps")
        return logits, cache

    keyword = _cache_keyword(model)
    logits, cache = parts(output)
    mask = batch.get("attention_mask")
    fed: list[torch.Tensor] = []
    for _ in range(steps):
        token = logits[:, -1, :].argmax(dim=-1)
        fed.append(token)
        before_step()
        kwargs: dict[str, Any] = {"input_ids": token[:, None], keyword: cache, "use_cache": True}
        if mask is not None:
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
            kwargs["attention_mask"] = mask
        logits, cache = parts(model(**kwargs))
    return [[int(i) for i in row] for row in torch.stack(fed, dim=1).tolist()]
