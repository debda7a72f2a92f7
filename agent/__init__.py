"""The brain: answer pipeline, escalation, compliance and live rooms."""
