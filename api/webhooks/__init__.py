"""Outgoing webhooks: tenant events POSTed to registered endpoints, signed, retried, logged."""
