"""System check of how tasks run: eager mode, for unit tests, stops a deployment."""

from django.conf import settings
from django.core.checks import Error, register


@register(deploy=True)
def tasks_not_eager(app_configs=None, **kwargs) -> list[Error]:
    # Celery masks an account mail's arguments (argsrepr) only on a real worker: an eager run
    # logs them whole, and the password-reset link with them.
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    return [
        Error(
            "PORTAL_CELERY_EAGER is on: every task runs inside the web request that queued it "
            "(a provisioning run, a mail to a stuck server), and Celery logs an eager task's "
            "arguments, password-reset links among them.",
            hint="Unset PORTAL_CELERY_EAGER and run a worker (unit tests only switch it on).",
            id="portal.E003",
        )
    ]
