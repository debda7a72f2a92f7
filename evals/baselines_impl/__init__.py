"""Two Q&A systems a merchant might use instead of ours, for side-by-side benchmarks.

- `DifflibQA` (evals.baselines_impl.difflib_qa): a local question → answer table matched with
  ``difflib`` string similarity, the method popular open-source virtual anchors use for their local Q&A.
- `LangChainStuffQA` (evals.baselines_impl.langchain_stuff): a plain LangChain pipeline — a FAISS vector
  store over the catalog with our embedder, and a "stuff the retrieved documents into the prompt" chain
  over an OpenAI-compatible model (in benchmarks, the extractive loopback fake of
  evals.baselines_impl.extractive_llm).

Both are built from the same catalog the product answers from, never from the evaluation answers, and
both answer with a `BaselineAnswer` that scores like the product's answers (`to_observed`).
"""

from evals.baselines_impl.common import BaselineAnswer
from evals.baselines_impl.difflib_qa import DifflibQA, QAPair, qa_pairs_from_catalog

__all__ = ["BaselineAnswer", "DifflibQA", "QAPair", "qa_pairs_from_catalog"]
