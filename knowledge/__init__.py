"""The catalog knowledge base: loaders, store, passages, embedders and hybrid retrieval."""
