"""Helpers shared by several test modules (servers, browser)."""
