"""The web part: health, moderator pages, admin and public APIs (FastAPI)."""
