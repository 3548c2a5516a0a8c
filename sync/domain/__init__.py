"""Domain model: activities, review items, runs; no frameworks."""
