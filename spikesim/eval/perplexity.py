"""Perplexity of a causal LM on held-out text, per quantization method (``spikesim eval``).

The first ``tokens`` tokens of the text (built-in ``heldout.txt`` by default, which shares no
sentence with the calibration text) are cut into sequences of ``seq_len``; each sequence is
scored independently (no context carried over), every token but a sequence's first is predicted,
and

    perplexity = exp( Σ −log p(token | previous tokens of its sequence) / number of predictions )

For each method the model's linear layers run under
:func:`spikesim.eval.fakequant.fake_quantized`; everything else (embeddings, norms, attention
softmax, ``lm_head``) stays float32.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikesim.config.quant import QuantConfig
from spikesim.errors import InputError
from spikesim.eval.fakequant import (
    fake_quantized,
    needs_calibration,
    parse_methods,
    record_inputs,
)

__all__ = ["DEFAULT_EVAL_TOKENS", "EvalResult", "MethodScore", "evaluate", "perplexity"]

DEFAULT_EVAL_TOKENS = 512
"""Held-out tokens scored by default."""


@dataclass(frozen=True)
class MethodScore:
    """One method's result.

    Attributes
    ----------
    method:
        Method name.
    perplexity:
        exp(mean negative log-likelihood per predicted token).
    nll:
        Mean negative log-likelihood (nats per predicted token).
    salient_ratio:
        Realised fraction of activation values flagged salient over all quantized linears and
        tokens; 0 for ``rtn``; NaN for the float references (not applicable).
    """

    method: str
    perplexity: float
    nll: float
    salient_ratio: float


@dataclass(frozen=True)
class EvalResult:
    """Perplexities per method plus provenance.

    Attributes
    ----------
    scores:
        One :class:`MethodScore` per method, in the order asked.
    tokens:
        Tokens scored (sequence starts excluded: ``predictions``).
    predictions:
        Number of predicted tokens.
    info:
        Model, text source and SHA-256, quant config, sequence length.
    """

    scores: tuple[MethodScore, ...]
    tokens: int
    predictions: int
    info: dict[str, Any]

    def rows(self) -> list[dict[str, Any]]:
        """Rows with the CSV columns ``method, perplexity, salient_ratio``."""
        return [
            {"method": s.method, "perplexity": s.perplexity, "salient_ratio": s.salient_ratio}
            for s in self.scores
        ]


def perplexity(model: Any, batches: Sequence[Any]) -> tuple[float, int]:
    """Mean NLL (nats per predicted token) of ``model`` on ``batches`` and the prediction count.

    ``batches`` are dicts with ``input_ids`` [B, L] (as :func:`spikesim.trace.extract.
    token_batches` makes); the model returns an object with ``logits`` [B, L, V].
    """
    import torch

    total = 0.0
    count = 0
    with torch.no_grad():
        for batch in batches:
            ids = batch["input_ids"]
            if ids.shape[1] < 2:
                continue
            logits = model(**batch).logits[:, :-1, :].to(torch.float64)
            target = ids[:, 1:]
            logp = torch.log_softmax(logits, dim=-1)
            nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
            total += float(nll.sum())
            count += int(target.numel())
    if count == 0:
        raise InputError(
            "nothing to score: every sequence is shorter than 2 tokens", field="tokens"
        )
    return total / count, count


def evaluate(
    model: str | os.PathLike[str],
    methods: str | Sequence[str],
    *,
    cfg: QuantConfig | None = None,
    text: str | os.PathLike[str] | None = None,
    tokens: int = DEFAULT_EVAL_TOKENS,
    seq_len: int | None = None,
    batch: int = 1,
    layers: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    on_method: Any = None,
    progress: bool = False,
) -> EvalResult:
    """Perplexity of ``model`` on held-out text under each method (``spikesim eval``).

    Parameters
    ----------
    model:
        Directory, known name or hub id (see :mod:`spikesim.trace.models`).
    methods:
        Comma-separated or a sequence: ``fp32``, ``fp16`` and every
        :class:`spikesim.quant.Method` (``rtn``, ``spikequant`` …) and the MAC baselines'
        quantizers (``mac-w4a4``, ``atom``, ``spikellm``; atom and spikellm choose their wide
        channels on the first ``quant.calibration_tokens`` tokens of the built-in calibration
        text, a static choice as in the papers).
    cfg:
        Quantization knobs (default :class:`QuantConfig` defaults).
    text:
        UTF-8 text file; default the built-in held-out sample.
    tokens, seq_len, batch:
        Tokens scored, tokens per sequence (default min(tokens, 256, context)), sequences per
        forward pass.
    layers, exclude:
        Which linears are quantized (globs; ``lm_head`` excluded by default).
    on_method:
        Optional callback ``(MethodScore) -> None`` after each method.
    progress:
        Let transformers show its loading progress bars.

    Raises
    ------
    InputError
        Naming the parameter at fault.
    """
    from spikesim.trace.extract import resolve_seq_len, token_batches, tokenize
    from spikesim.trace.models import load_causal_lm
    from spikesim.trace.text import read_text

    names = parse_methods(methods)
    cfg = cfg or QuantConfig()
    for param, value in (("tokens", tokens), ("batch", batch)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"must be a positive integer, got {value!r}", field=param)
    src = read_text(text, builtin="heldout")
    loaded = load_causal_lm(model, progress=progress)
    ids = tokenize(loaded.tokenizer, src.text)
    if len(ids) < tokens:
        raise InputError(
            f"the text ({src.label}) has {len(ids)} tokens, fewer than the {tokens} asked for",
            field="tokens",
        )
    length = resolve_seq_len(loaded.model, tokens, seq_len)
    batches = token_batches(ids, tokens=tokens, seq_len=length, batch=batch)
    calibration = None
    calib_info = None
    if any(needs_calibration(n) for n in names):
        calib_src = read_text(None, builtin="calibration")
        calib_ids = tokenize(loaded.tokenizer, calib_src.text)[: cfg.calibration_tokens]
        calibration = record_inputs(
            loaded.model,
            token_batches(calib_ids, tokens=len(calib_ids), seq_len=len(calib_ids), batch=1),
            tokens=len(calib_ids),
            layers=layers,
            exclude=exclude,
        )
        calib_info = {
            "source": calib_src.label,
            "sha256": calib_src.sha256,
            "tokens": len(calib_ids),
        }
    scores: list[MethodScore] = []
    predictions = 0
    for name in names:
        with fake_quantized(
            loaded.model, name, cfg, layers=layers, exclude=exclude, calibration=calibration
        ) as stats:
            nll, predictions = perplexity(loaded.model, batches)
        ratio = math.nan if name in ("fp32", "fp16") else stats.salient_ratio
        score = MethodScore(name, float(np.exp(nll)), nll, ratio)
        scores.append(score)
        if on_method is not None:
            on_method(score)
    info = {
        **loaded.info,
        "text": {"source": src.label, "sha256": src.sha256, "tokens_in_text": len(ids)},
        "seq_len": length,
        "calibration": calib_info,
        "quant": cfg.model_dump(mode="json"),
    }
    return EvalResult(tuple(scores), tokens, predictions, info)
