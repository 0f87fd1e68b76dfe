"""The task broker: Celery on Redis or on files, and the TaskQueue adapter that feature code uses."""
