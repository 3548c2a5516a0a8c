"""Alembic migrations for the catalogue database."""
