"""Connectors: talk HTTP to feeds; know nothing of the catalogue."""
