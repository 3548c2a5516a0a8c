"""Entrypoints: the CLI, and later the daemon and web."""
