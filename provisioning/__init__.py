"""Provisioning: the engine, its steps and drivers, and the Celery tasks that run them."""
