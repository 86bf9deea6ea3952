"""The durable job queue between the edge and the worker.

A POST is answered only once its job is durable in the queue; a worker leases jobs,
delivers them to the backend and settles each one.
"""

from gateway.queue.backoff import Backoff
from gateway.queue.base import JobQueue, QueueUnavailable
from gateway.queue.embedded import EmbeddedQueue
from gateway.queue.jobs import DeadLetter, Job, JobKind, Lease

__all__ = [
    "Backoff",
    "DeadLetter",
    "EmbeddedQueue",
    "Job",
    "JobKind",
    "JobQueue",
    "Lease",
    "QueueUnavailable",
]
