"""Alembic migrations for the catalogue database.

The revisions are numbered 0001, 0002, 0005, 0006, 0007, 0008: the gap is kept on purpose.
Databases created by earlier releases record these ids in `alembic_version`, so renumbering
would leave them at a revision that no longer exists. New revisions take the next free number.
"""
