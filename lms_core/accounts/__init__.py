"""Accounts: users and roles, logging in, one-time tokens, the audit log."""
