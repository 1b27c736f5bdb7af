"""Transports that turn requests into a RequestContext and back."""
