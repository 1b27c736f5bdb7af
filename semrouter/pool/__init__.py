"""Upstream endpoints, selection policies and health."""
