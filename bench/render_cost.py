"""Benchmark: whole `slogen validate` and `slogen render` commands on a large generated spec, against
the text floor, and optionally against another slogen source tree (`--baseline DIR`), in one run.

Each figure is one command in its own process (`python -m slogen ...`, interpreter start and
imports included), on the same spec, with a private cache directory:

- cold validate: `validate` with the spec cache off (SLOGEN_NO_CACHE=1);
- full render: `render` into an empty directory with an empty cache (validate, build, write all);
- check, unchanged: `render --check` right after (spec and render caches warm);
- one SLO changed, render: one objective edited, then `render` (the spec validates afresh; only
  that service's rules are rebuilt);
- one SLO changed, check: another objective edited, then `render --check` (exit 1, one stale file);
- text floor: writing the very bytes of the rendered tree from precomputed strings into a new
  directory, with one sync at the end (in this process: no interpreter start);
- generate + write, in process: from the validated model, `render()` and the transactional write
  into an empty directory: the same work as the floor plus building the text (this slogen only).

`--baseline DIR` runs the same commands with `PYTHONPATH=DIR/generator` (e.g. a `git archive` of
main), so before and after come from the same run on the same machine; ratios are slogen ÷ baseline.
`--repeat N` measures both N times, interleaved (this slogen, the baseline, the baseline, this
slogen, ...) so a load that rises or falls during the run weighs on both alike, and reports the
median of each figure. Each command's CPU time (user + system of the child) is reported beside
its wall time: on a shared machine it moves less with the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.gen_spec import build

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

FIGURES = ("cold validate", "full render", "render --check, unchanged", "one SLO changed: render",
           "one SLO changed: render --check")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _command(args: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall, CPU) seconds of one `python -m slogen ...` in its own process."""
    cpu = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "slogen", *args], env=env, capture_output=True, text=True,
                            check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in ok:
        raise RuntimeError(f"slogen {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return elapsed, _children_cpu() - cpu


def _change_objective(spec: Path, service: str, objective: str) -> None:
    """Edit the first SLO objective of `service` in place (plain text: the spec stays as written)."""
    text = spec.read_text()
    start = text.index(f"name: {service}\n")
    at = text.index("objective:", start)
    end = text.index("\n", at)
    spec.write_text(text[:at] + f"objective: {objective}" + text[end:])


def text_floor(tree: Path, into: Path) -> float:
    """Seconds to write every file of `tree` again from strings already in memory, then sync once."""
    files = {p.relative_to(tree): p.read_text(encoding="utf-8") for p in sorted(tree.rglob("*")) if p.is_file()}
    started = time.perf_counter()
    for rel, text in files.items():
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    os.sync()
    return time.perf_counter() - started


def generate_and_write(spec: Path, into: Path) -> float:
    """Seconds for render() and write_tree() of the validated spec into an empty directory."""
    from slogen.render import render
    from slogen.services.writer import write_tree
    from slogen.spec.load import load

    model = load(str(spec))
    started = time.perf_counter()
    write_tree(render(model), into)
    return time.perf_counter() - started


def measure(services: int, slos_per_service: int, source: Path | None = None) -> dict[str, float]:
    """Seconds per figure for one spec size, running the slogen found at `source` (None: this one)."""
    work = Path(tempfile.mkdtemp(prefix="slogen-bench-render-"))
    try:
        spec, out = work / "slos.yaml", work / "out"
        spec.write_text(yaml.dump(build(services, slos_per_service), Dumper=_Dumper, sort_keys=False))
        cache = work / "cache"
        cache.mkdir(mode=0o700)
        env = {**os.environ, "SLOGEN_CACHE_DIR": str(cache)}
        env.pop("SLOGEN_NO_CACHE", None)
        if source is not None:
            env["PYTHONPATH"] = str(source / "generator")
        timed = {
            "cold validate": _command(["validate", "-f", str(spec)], {**env, "SLOGEN_NO_CACHE": "1"}),
            "full render": _command(["render", "-f", str(spec), "-o", str(out)], env),
            "render --check, unchanged": _command(["render", "--check", "-f", str(spec), "-o", str(out)], env),
        }
        middle = f"svc-{services // 2:04d}"
        _change_objective(spec, middle, "99.7")
        timed["one SLO changed: render"] = _command(["render", "-f", str(spec), "-o", str(out)], env)
        _change_objective(spec, f"svc-{services // 3:04d}", "99.6")
        timed["one SLO changed: render --check"] = _command(
            ["render", "--check", "-f", str(spec), "-o", str(out)], env, ok=(1,))
        fig = {name: wall for name, (wall, _) in timed.items()}
        fig.update({f"{name} CPU": cpu for name, (_, cpu) in timed.items()})
        fig["text floor"] = text_floor(out, work / "floor")
        if source is None:
            fig["generate + write, in process"] = generate_and_write(spec, work / "inproc")
        fig["output MiB"] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
        fig["files"] = sum(1 for p in out.rglob("*") if p.is_file())
        return fig
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float("nan")


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def run(*, smoke: bool = False, baseline: Path | None = None, repeat: int = 1) -> list[dict[str, Any]]:
    """Rows of (figure, slogen, reference, ratio) for the suite table."""
    services = 10 if smoke else 1000
    slos = services * 10
    load_before = _load()
    news: list[dict[str, float]] = []
    olds: list[dict[str, float]] = []
    for i in range(repeat):
        order = [None, baseline] if i % 2 == 0 else [baseline, None]
        for source in order:
            if source is None:
                news.append(measure(services, 10))
            elif baseline is not None:
                olds.append(measure(services, 10, source))
    new = _median(news)
    old = _median(olds) if olds else None
    rows = []
    for name in (*FIGURES, *(f"{f} CPU" for f in FIGURES)):
        reference = old[name] if old else None
        rows.append({"figure": f"{name}, {slos} SLOs (s)", "slogen": new[name], "reference": reference,
                     "ratio": new[name] / reference if reference else None})
    floor = new["text floor"]
    rows.append({"figure": f"full render vs text floor, {slos} SLOs (s)", "slogen": new["full render"],
                 "reference": floor, "ratio": new["full render"] / floor if floor else None})
    inproc = new["generate + write, in process"]
    rows.append({"figure": f"generate + write in process vs text floor, {slos} SLOs (s)", "slogen": inproc,
                 "reference": floor, "ratio": inproc / floor if floor else None})
    rows.append({"figure": f"output of {slos} SLOs (MiB, files)", "slogen": new["output MiB"],
                 "reference": new["files"], "ratio": None})
    rows.append({"figure": "load average (1 min) before, after", "slogen": load_before, "reference": _load(),
                 "ratio": None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--baseline", type=Path, help="another slogen source tree to measure in the same run")
    parser.add_argument("--repeat", type=int, default=1, help="measure N times, interleaved with the baseline; "
                        "report the medians")
    args = parser.parse_args()
    for row in run(smoke=args.smoke, baseline=args.baseline, repeat=max(1, args.repeat)):
        print(row)


if __name__ == "__main__":
    main()
