"""Answer writers: the deterministic template writer (default) and the LLM writer."""

from agent.writers.base import Draft, Writer, WriteRequest

__all__ = ["Draft", "WriteRequest", "Writer"]
