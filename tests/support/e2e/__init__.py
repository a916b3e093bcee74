"""Helpers of the end-to-end tests in tests/e2e: app servers, their settings, clients, data."""
