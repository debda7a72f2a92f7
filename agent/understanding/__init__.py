"""What the bot understands of a message, in one place: models and data, not patterns.

- `intents`: the intents of shop chat, their one-line definitions, routes and ticket categories;
- `features`: hashed character n-grams and cues beside the sentence vector;
- `model`: the trained intent model (numpy only at run time; a versioned ``.npz`` artefact);
- `train` / `augment`: `anchor router train` — from ``data/intents/`` (and a merchant's corrections);
- `overrides`: the few certain rules that overrule the model, each documented;
- `corrections`: people teaching it from the agent console.

The pipeline calls `agent.router.IntentRouter`, which puts these together.
"""
