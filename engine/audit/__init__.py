"""Audit devices: every request and response, HMAC'd, fail-closed, chained."""
