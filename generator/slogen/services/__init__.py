"""Orchestration of commands that do I/O: each service calls clients and returns a report; only cli/ prints."""
