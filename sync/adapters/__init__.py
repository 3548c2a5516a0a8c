"""Adapters: database tables, repositories and other I/O."""
