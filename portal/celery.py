"""The Celery application, configured from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from portal import taskcontext  # noqa: E402, F401  (connects the request-id signals)
from provisioning import leaserule  # noqa: E402, F401  (a worker refuses a lease too short)
