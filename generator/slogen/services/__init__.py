"""Orchestration of commands that do I/O: they return report objects, the CLI prints them."""
