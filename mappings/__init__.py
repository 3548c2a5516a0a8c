"""Mappings: pure functions from raw feed records to normalised activities."""
