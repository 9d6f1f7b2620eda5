"""Accounts: users, password login, device tokens, sessions, and the admin pages."""
