"""Text helpers shared by the router and the escalation assessor: preparing text, order ids, and the word
lists that set a ticket's priority (`agent.escalation.assess`). What a message *is* is decided by the intent
model (`agent.understanding`, `agent.router`), not here.
"""
