"""Internals of the message router: text preparation, lexicons, after-sales detection, order ids.

The public entry points are `agent.router.classify` and `agent.escalation.assess`.
"""
