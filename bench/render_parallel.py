"""Experiment: the rule files of 10,000 SLOs built in forked worker processes, against one process.

    python -m bench.render_parallel [--workers 2] [--repeat 3]

The lever measured for issue 20's full render (not adopted: docs/performance.md). From the
validated model, in this process: `rules.generate` of every service (serial), then the same
split over N processes (fork: this process builds one share, N - 1 children build the others,
interleaved by service so shapes spread evenly, and send their files' text back through a pipe,
pickled). Reported: wall time, CPU time of all the processes, the children's peak RSS and this
process's, and whether the texts are byte for byte the serial ones. Linux only (fork).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pickle
import resource
import statistics
import time
from typing import Any

import yaml

from bench.gen_spec import build
from slogen import gcpause
from slogen.model import Spec
from slogen.render import rules
from slogen.spec.load import loads


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _texts(spec: Spec) -> dict[str, str]:
    with gcpause.paused():
        return {a.path: a.text for a in rules.generate(spec)}


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def parallel(spec: Spec, workers: int) -> dict[str, str]:
    """The rule files' texts, `workers` processes building a share each."""
    shares = [dataclasses.replace(spec, services=spec.services[i::workers]) for i in range(workers)]
    children = []
    for share in shares[1:]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: build its share, send it, leave without cleanup handlers
            os.close(read_end)
            try:
                data = pickle.dumps(_texts(share), protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(data)
                while view:
                    view = view[os.write(write_end, view):]
            finally:
                os._exit(0)
        os.close(write_end)
        children.append((pid, read_end))
    out = _texts(shares[0])
    for pid, read_end in children:
        out.update(pickle.loads(_read_all(read_end)))
        os.close(read_end)
        os.waitpid(pid, 0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--services", type=int, default=1000)
    args = parser.parse_args()
    spec = loads(yaml.safe_dump(build(args.services, 10), sort_keys=False), filename="slos.yaml")
    figures: dict[str, list[float]] = {"serial wall": [], "serial CPU": [], "parallel wall": [], "parallel CPU": []}
    reference = _texts(spec)  # a warm-up, so both start with the same memoized helpers
    same = True
    for i in range(args.repeat):
        for kind in ("serial", "parallel") if i % 2 == 0 else ("parallel", "serial"):
            cpu, started = _cpu(), time.perf_counter()
            texts = _texts(spec) if kind == "serial" else parallel(spec, args.workers)
            figures[f"{kind} wall"].append(time.perf_counter() - started)
            figures[f"{kind} CPU"].append(_cpu() - cpu)
            same = same and texts == reference
    result: dict[str, Any] = {name: round(statistics.median(v), 3) for name, v in figures.items()}
    result["byte-identical"] = same
    result["peak RSS MiB (this process, largest child)"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
    result["load average (1 min)"] = round(os.getloadavg()[0], 2)
    print(result)


if __name__ == "__main__":
    main()
