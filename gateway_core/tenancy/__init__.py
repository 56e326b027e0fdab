"""Tenancy: teams, virtual API keys, admin users and the audit log."""
