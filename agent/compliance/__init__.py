"""Compliance of everything the bot says: advertising-law and honest-claims checks, and their repair.

Every generated line — an answer to a shopper, a live-room script sentence — goes through `enforce`
before it is spoken or shown: a forbidden word with a safe rewrite is rewritten, a sentence that cannot
be made honest is dropped. `check` only reports. The rules live in `agent.compliance.rules` as data;
docs/compliance.md explains them to merchants.
"""

from __future__ import annotations

from agent.compliance.checker import ComplianceReport, Finding, check
from agent.compliance.enforce import Enforced, enforce, split_sentences
from agent.compliance.rules import RULES, Rule

__all__ = ["RULES", "ComplianceReport", "Enforced", "Finding", "Rule", "check", "enforce", "split_sentences"]
