"""Live platforms' chat feeds (Bilibili, TikTok …) as room connectors; see docs/connectors.md."""
