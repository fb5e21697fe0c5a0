"""Pause Python's cyclic garbage collector while a large acyclic structure is built.

Decoding a 4 MB Prometheus answer or a 10,000-SLO spec creates hundreds of thousands of dicts,
lists and tuples, and each 700 allocations the collector runs; every so often it traverses the
whole heap, which by then holds the spec's model. None of these objects form cycles (JSON and
frozen dataclasses), so nothing is lost by collecting after the build instead of during it
(figures in docs/performance.md).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Disable automatic collection inside the block; restore the previous setting after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
