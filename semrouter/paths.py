"""How files are named in what the project writes (reports, descriptions, logs): never by a machine path."""

from __future__ import annotations

import os

__all__ = ["shown_path"]


def shown_path(path: str) -> str:
    """How a report names a file: relative to the working directory (``../shared/...`` for the shared
    data when run from the repo), so reports committed to the repo carry no machine's paths."""
    if not path or not os.path.isabs(path):
        return path
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows): nothing shorter to say
        return path
