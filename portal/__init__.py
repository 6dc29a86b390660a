"""The portal's Django project: settings, URLs, Celery app, health checks."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
