"""The one place the web pages find their templates (mail has its own, in sync/service)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Pages rendered to a string (public listing, report): .html escaped, .md and .csv as written.
# No auto_reload: templates ship with the code, and a stat() per page view is measurable.
pages = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                    auto_reload=False)

# Moderation pages, answered as a TemplateResponse (autoescapes .html).
responses = Jinja2Templates(directory=str(TEMPLATES))
