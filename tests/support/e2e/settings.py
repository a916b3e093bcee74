"""Settings of the app servers the end-to-end tests start: the test settings, DEBUG off.

DEBUG is off in those servers, so WhiteNoise would only look in STATIC_ROOT (no `collectstatic`
output in a checkout); looking the files up through the finders serves htmx and the CSS as they are.
"""

from tests.settings import *  # noqa: F403

WHITENOISE_USE_FINDERS = True
