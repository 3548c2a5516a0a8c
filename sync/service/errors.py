"""Errors the services raise for an admin request they cannot carry out (CLI and admin API)."""

from __future__ import annotations


class AdminError(Exception):
    """An admin request that cannot be carried out; `usage` tells a bad request from a failure."""

    usage = False


class NotFound(AdminError):
    usage = True


class NotOpen(AdminError):
    """The failure is already resolved or ignored."""
