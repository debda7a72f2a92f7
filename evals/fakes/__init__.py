"""Stand-ins for services this project cannot reach, faked at the wire protocol so real clients run."""

from evals.fakes.openai_server import FakeOpenAIServer, Reply, split_tokens

__all__ = ["FakeOpenAIServer", "Reply", "split_tokens"]
