"""The durable job queue between the edge and the worker.

A POST is answered only once its job is durable in the queue; a worker leases jobs,
delivers them to the backend and settles each one. `queue_url` in the configuration
picks the implementation by its scheme (`urls.SCHEMES`).
"""

from gateway.queue.amqp import AmqpQueue
from gateway.queue.backoff import Backoff
from gateway.queue.base import JobQueue, QueueUnavailable
from gateway.queue.embedded import EmbeddedQueue
from gateway.queue.jobs import DeadLetter, Job, JobKind, Lease
from gateway.queue.urls import SCHEMES, check_queue_url, is_broker, open_queue, queue_url_in_store

__all__ = [
    "SCHEMES",
    "AmqpQueue",
    "Backoff",
    "DeadLetter",
    "EmbeddedQueue",
    "Job",
    "JobKind",
    "JobQueue",
    "Lease",
    "QueueUnavailable",
    "check_queue_url",
    "is_broker",
    "open_queue",
    "queue_url_in_store",
]
