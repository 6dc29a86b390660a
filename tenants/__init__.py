"""Tenants: plans, tenant requests and their lifecycle, approvals and the audit trail."""
