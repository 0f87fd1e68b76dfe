"""The worker's thin Celery tasks, installed as `syndicate.worker` (never a top-level `worker`)."""
