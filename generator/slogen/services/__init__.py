"""Command orchestration that does I/O (Prometheus, files, promtool) and returns report objects."""
