"""Run README.md's command blocks verbatim against a fresh wheel install, from an empty directory.

What it does, in order:

1. Builds the wheel of this repository (``pip wheel --no-deps --no-build-isolation``, as
   ``tests/test_install_modes.py`` does; with build isolation if setuptools is missing) and
   installs it with ``pip install --no-deps --ignore-installed --target T``
   (``--ignore-installed``: never touch the spikesim installed in this environment). Commands
   then run with ``PYTHONPATH=T`` and ``T/bin`` first on ``PATH``, so ``spikesim`` and ``import
   spikesim`` are the wheel's (checked before anything runs), with the dependencies of the
   current environment.
2. Reads every fenced block of README.md, in order, and runs them all in ONE shared directory,
   empty at the start: later blocks use what earlier ones wrote (``traces/llama`` from the synth
   block is read by the Python API block and by the comparison block, ``runs/cmp`` by the pandas
   block), as a reader following the README would.

   - ``bash`` blocks: backslash continuations are joined and comment-only lines dropped; each
     resulting command line runs as ``bash -o pipefail -c LINE`` (bash strips trailing comments
     itself), with a timeout. A line chained with `` && `` is split into its parts (a plain split:
     no README command has `` && `` inside quotes) so a skipped part (``pip install ...``) does not
     hide the rest (``spikesim demo``); the parts run in order and stop at the first failure, as
     ``&&`` would.
   - ``python`` blocks: each block runs whole, as one script, with this Python.
   - ``yaml`` blocks whose first line is a comment naming a file (``# sweep.yaml — ...``) are
     written to that file, as the reader is told to; other yaml blocks and unlabelled blocks are
     illustrations, not commands, and are listed as such.

3. A command (each part of an ``&&`` chain, comments removed) that cannot run on a CI machine is
   skipped by an explicit rule of ``SKIP_RULES`` (pattern, reason), and the reason is printed;
   ``SLOW_RULES`` lists commands that run for many minutes, skipped (and said so) unless
   ``README_ALL=1``. Everything else must exit 0. A README command that stops working fails this
   script: fix the README (or spikesim), or add a rule here with the reason it cannot run.

A summary (ran / skipped with reason / failed) ends the output; the exit status is 1 when any
command failed. Environment: ``README_ALL=1`` also runs the slow commands, ``README_TIMEOUT``
(seconds, default 900; four times that for a slow command) bounds each command and Python
block, ``README_KEEP=DIR`` runs in DIR (must be absent or
empty) and keeps it.

Usage: ``python .ci/readme_commands.py [README.md]`` (stdlib only).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (pattern searched in a command with its comments removed, reason it cannot run here)
SKIP_RULES: list[tuple[str, str]] = [
    (r"^pip install\b", "installs packages (needs the network); this script installs the wheel"),
    (r"--scheduler tcp://", "needs a running Dask scheduler at the given address"),
    (r"\bpath/to/", "placeholder path (path/to/...) for the reader's own file"),
    (r"(^|\s)\.\.\.(\s|$)", "placeholder '...' for the reader's own arguments"),
    (r"^spikesim (extract|eval)\b",
     "needs torch and the real SmolLM2-135M model, fetched from PyPI (network)"),
    (r"--trace traces/smol-whole\b",
     "runs on the trace the skipped 'spikesim extract' above writes (torch, network)"),
    (r"^(python -m pytest|ruff|mypy|python (benchmarks|tests|scripts)/)",
     "developer command for a source checkout (tests/, benchmarks/), not a wheel; .ci/run runs "
     "the tests, ruff and mypy"),
]  # fmt: skip

# (pattern, why it is slow) skipped unless README_ALL=1
SLOW_RULES: list[tuple[str, str]] = [
    (r"^spikesim sweep dataflows --trace traces/l7\b",
     "72 points on a llama2-7b layer at 2048 tokens, 10-20 min by the README"),
    (r"--out runs/l7-whole-",
     "the whole llama2-7b (32 blocks): 4 to 60 min each on 2 cores by the README"),
]  # fmt: skip

FENCE = re.compile(r"^```(\w*)\s*$")
NAMED_YAML = re.compile(r"^#\s*([\w.-]+\.ya?ml)\b")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    body: list[str]


@dataclass
class Outcome:
    where: str  # "README.md:LINE"
    text: str
    status: str  # ran, skipped, failed, written, illustration
    detail: str = ""
    seconds: float = 0.0


def read_blocks(text: str) -> list[Block]:
    """Every fenced block of ``text``, in order."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        blocks.append(Block(i + 1, m.group(1), lines[i + 1 : end]))
        i = end + 1
    return blocks


def shell_lines(block: Block) -> list[tuple[int, str]]:
    """(README line, command line) of a bash block: continuations joined, comment lines dropped."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for offset, raw in enumerate(block.body):
        if not pending:
            start = block.line + 1 + offset
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1].rstrip())
            continue
        pending.append(raw.strip() if pending else raw.rstrip())
        out.append((start, " ".join(p.strip() for p in pending)))
        pending = []
    if pending:
        raise SystemExit(f"README.md:{start}: a continuation line ends the block")
    return out


def parts(line: str) -> list[str]:
    """The parts of a command line chained with ``&&`` (each still with its comments)."""
    return [p.strip() for p in re.split(r"\s&&\s", line)]


def bare(command: str) -> str:
    """A command without its comments, normalised to single spaces (for matching rules)."""
    return " ".join(shlex.split(command, comments=True))


def rule_for(command: str, rules: list[tuple[str, str]]) -> str | None:
    text = bare(command)
    for pattern, reason in rules:
        if re.search(pattern, text):
            return reason
    return None


def pip(argv: list[str]) -> None:
    """Run a pip command quietly; its output only if it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")


def install_wheel(work: Path) -> Path:
    """Build and install the wheel of this repository under ``work``; the folder to import from."""
    wheels, site = work / "wheel", work / "site"
    # as tests/test_install_modes.py, with this environment's setuptools; an environment without
    # one (a bare Python 3.12 venv) builds in pip's isolated environment instead
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    pip([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q",
         "-w", str(wheels), str(ROOT)])  # fmt: skip
    (wheel,) = wheels.glob("spikesim-*.whl")
    # --ignore-installed: never uninstall the spikesim of this environment (pip would)
    pip([sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q",
         "--target", str(site), str(wheel)])  # fmt: skip
    print(f"installed {wheel.name} into {site}", flush=True)
    return site


def environment(site: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(site)
    path = [str(site / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    env["SPIKESIM_CACHE"] = str(cache)  # a fresh user: no quantized layers, no checksums known
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    return env


def check_install(site: Path, cwd: Path, env: dict[str, str]) -> None:
    """Fail unless ``spikesim`` and ``import spikesim`` resolve to the wheel just installed."""
    where = 'command -v spikesim; python -c "import spikesim; print(spikesim.__file__)"'
    probe = subprocess.run(
        ["bash", "-c", where], cwd=cwd, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = probe.stdout.split()
    if probe.returncode != 0 or len(found) != 2 or not all(f.startswith(str(site)) for f in found):
        raise SystemExit(f"the wheel's spikesim is not the one found: {probe.stdout}{probe.stderr}")


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    """Run ``argv``; (exit code, the tail of its output, seconds). Output is echoed when done."""
    start = time.monotonic()
    with subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    ) as proc:  # fmt: skip
        try:
            out, _ = proc.communicate(timeout=timeout)
            code, note = proc.returncode, []
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the command and everything it started
            out, _ = proc.communicate()
            code, note = -signal.SIGKILL, [f"timed out after {timeout:.0f} s"]
    lines = out.splitlines()
    for text in lines:
        print(f"    | {text}")
    return code, "\n".join(lines[-15:] + note), time.monotonic() - start


def main(args: list[str]) -> int:
    readme = Path(args[0]) if args else ROOT / "README.md"
    everything = os.environ.get("README_ALL") == "1"
    timeout = float(os.environ.get("README_TIMEOUT", "900"))
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="readme-") as tmp:
        work = Path(tmp)
        keep = os.environ.get("README_KEEP")
        shared = Path(keep).resolve() if keep else work / "empty"
        shared.mkdir(parents=True, exist_ok=True)
        if any(shared.iterdir()):
            raise SystemExit(f"{shared} is not empty")
        site = install_wheel(work)
        env = environment(site, work / "cache")
        check_install(site, shared, env)
        print(f"running README blocks in {shared}\n", flush=True)
        outcomes = run_blocks(read_blocks(readme.read_text(encoding="utf-8")), readme.name,
                              shared, work, env, timeout, everything)  # fmt: skip
    return summarise(outcomes, time.monotonic() - began)


def run_blocks(
    blocks: list[Block], name: str, shared: Path, work: Path, env: dict[str, str],
    timeout: float, everything: bool,
) -> list[Outcome]:  # fmt: skip
    outcomes: list[Outcome] = []
    for block in blocks:
        where = f"{name}:{block.line}"
        if block.lang == "python":
            script = work / f"block-{block.line}.py"
            script.write_text("\n".join(block.body) + "\n", encoding="utf-8")
            print(f"{where} python block ({len(block.body)} lines)", flush=True)
            code, tail, secs = run([sys.executable, str(script)], shared, env, timeout)
            print(f"    -> exit {code} in {secs:.1f} s", flush=True)
            outcomes.append(Outcome(where, "python block", "ran" if code == 0 else "failed",
                                    "" if code == 0 else f"exit {code}\n{tail}", secs))  # fmt: skip
            continue
        if block.lang in ("yaml", "yml"):
            m = NAMED_YAML.match(block.body[0]) if block.body else None
            if m is not None:
                (shared / m.group(1)).write_text("\n".join(block.body) + "\n", encoding="utf-8")
                outcomes.append(Outcome(where, f"yaml block -> {m.group(1)}", "written"))
                continue
        if block.lang != "bash":
            outcomes.append(Outcome(where, f"{block.lang or 'plain'} block", "illustration"))
            continue
        for line_no, line in shell_lines(block):
            outcomes.extend(run_line(f"{name}:{line_no}", line, shared, env, timeout, everything))
    return outcomes


def run_line(
    where: str, line: str, cwd: Path, env: dict[str, str], timeout: float, everything: bool,
) -> list[Outcome]:  # fmt: skip
    outcomes: list[Outcome] = []
    for part in parts(line):
        reason = rule_for(part, SKIP_RULES)
        slow = rule_for(part, SLOW_RULES)
        if reason is None and slow is not None and not everything:
            reason = f"slow: skipped unless README_ALL=1; {slow}"
        if reason is not None:
            print(f"{where} SKIP {bare(part)}\n    reason: {reason}", flush=True)
            outcomes.append(Outcome(where, bare(part), "skipped", reason))
            continue
        print(f"{where} $ {part}", flush=True)
        code, tail, secs = run(["bash", "-o", "pipefail", "-c", part], cwd, env,
                               timeout * (4 if slow else 1))  # fmt: skip
        print(f"    -> exit {code} in {secs:.1f} s", flush=True)
        if code != 0:
            outcomes.append(Outcome(where, part, "failed", f"exit {code}\n{tail}", secs))
            break  # the rest of an && chain does not run
        outcomes.append(Outcome(where, part, "ran", seconds=secs))
    return outcomes


def summarise(outcomes: list[Outcome], seconds: float) -> int:
    print("\n==== summary ====")
    for o in outcomes:
        head = f"{o.status:12} {o.where:16} {o.text[:110]}"
        print(head + (f"  ({o.seconds:.1f} s)" if o.status in ("ran", "failed") else ""))
        if o.status in ("skipped", "failed"):
            print("\n".join(f"{'':30}{d}" for d in o.detail.splitlines()))
    kinds = ("ran", "skipped", "failed", "written", "illustration")
    count = {s: sum(o.status == s for o in outcomes) for s in kinds}
    print(f"\nran {count['ran']}, skipped {count['skipped']}, failed {count['failed']} "
          f"({count['written']} yaml block(s) written to their file, {count['illustration']} "
          f"illustration block(s) not run) in {seconds:.0f} s")  # fmt: skip
    return 1 if count["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
