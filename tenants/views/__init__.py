"""Tenant pages: list, request, detail with live steps, actions, and the approval screens."""
