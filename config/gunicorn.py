"""gunicorn settings for the production image (`gunicorn -c config/gunicorn.py config.wsgi`).

Every value can be overridden from the environment, so one file serves Docker and a VM.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Processes x threads: the status panel polls every 2 s per open tab, and a web-started sync
# runs in a thread of one of these processes (docs/architecture.md, "The runner"). They are not
# sized for slow clients: a thread reads a request header until it ends, so production puts
# nginx in front (docs/architecture.md, "A buffering proxy in front").
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# Keep-alive well above the panel's 2 s poll: with gunicorn's default of 2 s, a poll that reuses
# its connection races the server closing it, and the browser sees a reset. A TLS proxy in front
# usually keeps its own upstream connections for 60 s or more; stay below that plus margin.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
# A request that takes longer than this is a hung worker (syncs run outside requests).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Logs to stdout/stderr, where Docker and systemd collect them.
accesslog = "-"
errorlog = "-"
# The heartbeat file on a RAM disk where there is one: a worker blocked on disk I/O is not
# mistaken for a hung one.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"
