"""Tiny Hugging Face causal LMs built from config (random weights, no downloads) for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

VOCAB = 256

TINY_LLAMA_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}
"""A config.json of a 2-block LLaMA (head_dim 16, 2 KV groups of 2 query heads) for shape-only
workloads."""


def tiny_llama() -> Any:
    import torch
    import transformers

    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
    )
    return transformers.LlamaForCausalLM(cfg).eval()


def tiny_gpt2() -> Any:
    import torch
    import transformers

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=128,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    return transformers.GPT2LMHeadModel(cfg).eval()


def tiny_opt() -> Any:
    import torch
    import transformers

    torch.manual_seed(0)
    cfg = transformers.OPTConfig(
        vocab_size=VOCAB, hidden_size=64, ffn_dim=96, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=128, word_embed_proj_dim=64,
        bos_token_id=2, eos_token_id=2, pad_token_id=1,
    )  # fmt: skip
    return transformers.OPTForCausalLM(cfg).eval()


def byte_tokenizer() -> Any:
    """A byte-level tokenizer with no merges (256 tokens), built offline."""
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok)


def save_tiny_llama(path: Path) -> Path:
    """A tiny LLaMA plus tokenizer saved as a Hugging Face directory at ``path``."""
    tiny_llama().save_pretrained(path)
    byte_tokenizer().save_pretrained(path)
    return path
