"""Virtual live rooms: show plan, scripts, chat triage, the director, event bus and connectors."""
