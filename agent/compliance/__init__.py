"""Compliance of everything the bot says: advertising-law and honest-claims checks, and their repair.

Every generated line — an answer to a shopper, a live-room script sentence — goes through `enforce`
before it is spoken or shown: a forbidden word with a safe rewrite is rewritten, a sentence that cannot
be made honest is dropped. `check` only reports. The words live in `agent/compliance/words/*.yaml` as data
(`agent.compliance.wordbase`); docs/compliance.md explains them to merchants.
"""

from __future__ import annotations

from agent.compliance.checker import ComplianceReport, Finding, check
from agent.compliance.enforce import Enforced, enforce, split_sentences
from agent.compliance.wordbase import CompiledBase, WordBase, WordBaseError, compile_base, packaged_base

__all__ = [
    "CompiledBase",
    "ComplianceReport",
    "Enforced",
    "Finding",
    "WordBase",
    "WordBaseError",
    "check",
    "compile_base",
    "enforce",
    "packaged_base",
    "split_sentences",
]
