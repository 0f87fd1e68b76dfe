"""Signed pushes of articles to partner endpoints (Standard Webhooks 1.0)."""
