"""Migrations of the portal app: the shared cache's table."""
