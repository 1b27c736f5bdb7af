"""Shared sentence embedding (all-MiniLM-L6-v2 on ONNX Runtime) and the linear heads scored on it."""

from semrouter.embed.heads import LinearHead, load_domain_head
from semrouter.embed.model import EMBEDDING_DIM, EmbeddingModel
from semrouter.embed.service import EmbeddingService

__all__ = ["EMBEDDING_DIM", "EmbeddingModel", "EmbeddingService", "LinearHead", "load_domain_head"]
