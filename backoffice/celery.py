"""The Celery application: mail delivery, mailbox polling, deadline sweeps and large exports.

``CELERY_BROKER_URL`` (e.g. ``redis://127.0.0.1:6379/0``) points the workers at a broker. Without one,
tasks run in the calling process (``task_always_eager``), so a laptop needs no broker or worker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
