"""gunicorn settings for running the service from a checkout: `gunicorn 'policy_service.app:create_app()'`."""

from policy_service.gunicorn_conf import *  # noqa: F403
