"""What the tests use and are not tests: factories, loopback stand-ins for the services the app
calls, workbooks built in code, and helpers that run the app's commands and processes.

`tests.support.e2e` holds what only the end-to-end tests in tests/e2e use (app servers under
gunicorn, their settings, an HTTP client, the race test's trigger process).
"""
