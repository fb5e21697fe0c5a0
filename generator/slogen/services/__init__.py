"""Orchestration of commands: reading and writing files, calling clients; returns reports, never prints."""
