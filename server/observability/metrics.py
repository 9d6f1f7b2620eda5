"""Prometheus metrics: requests, sync, uploads, jobs; served at GET /metrics to allowed networks.

The metric objects live in the process (prometheus_client's default registry). Under gunicorn
every worker has its own: with PROMETHEUS_MULTIPROC_DIR set in the environment before the
server starts (an empty directory, writable by the workers), prometheus_client writes each
worker's values to files there and /metrics adds them up, whichever worker answers. The server
that starts the workers should call `mark_worker_dead(pid)` when one exits (gunicorn's
`child_exit` hook), so that its live gauges are dropped; counters and histograms are kept.

Domain code records with the one-line functions below (`sync_pushed`, `upload_created`, …); the
labels are endpoint names and outcomes, never a user, device, venue or path value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from flask import Blueprint, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from ..errors import problem_response

bp = Blueprint("metrics", __name__)

REQUESTS = Counter("anfang_http_requests", "HTTP requests answered, by Flask endpoint and status class",
                   ["endpoint", "status_class"])
REQUEST_SECONDS = Histogram(
    "anfang_http_request_duration_seconds", "Time from the start of a request to its answer (commit included)",
    ["endpoint", "status_class"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))

SYNC_PUSHES = Counter("anfang_sync_pushes", "Sync push batches applied")
SYNC_PULLS = Counter("anfang_sync_pulls", "Sync pull pages answered")
SYNC_OPERATIONS = Counter("anfang_sync_operations",
                          "Pushed operations: accepted (applied now), duplicate (applied before), rejected",
                          ["outcome"])

UPLOAD_CREATIONS = Counter("anfang_upload_creations", "tus uploads created")
UPLOAD_BYTES = Counter("anfang_upload_bytes", "Photo bytes received and kept by tus PATCH requests")
UPLOAD_COMPLETIONS = Counter("anfang_upload_completions", "tus uploads completed and stored as evidence")

# For the background jobs once a queue exists: a job reports its name and outcome here.
JOBS = Counter("anfang_jobs", "Background jobs finished, by job and outcome", ["job", "outcome"])
JOB_SECONDS = Histogram("anfang_job_duration_seconds", "Time a background job ran", ["job"])

# Requests no route matched (a scanner's guesses) share one label instead of one per path.
UNMATCHED_ENDPOINT = "unmatched"


def observe_request(endpoint: str | None, status: int, seconds: float) -> None:
    labels = (endpoint or UNMATCHED_ENDPOINT, f"{status // 100}xx")
    REQUESTS.labels(*labels).inc()
    REQUEST_SECONDS.labels(*labels).observe(seconds)


def sync_pushed(results: Iterable[dict], stored_before: set[str]) -> None:
    """A push batch was applied: count its operations by outcome. An operation answered 200 is a
    duplicate when its op_id was stored before the batch or came earlier in the same batch."""
    SYNC_PUSHES.inc()
    seen = set(stored_before)
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for result in results:
        op_id = result.get("op_id")
        if result.get("status") != 200:
            counts["rejected"] += 1
        elif op_id in seen:
            counts["duplicate"] += 1
        else:
            counts["accepted"] += 1
            seen.add(op_id)
    for outcome, count in counts.items():
        if count:
            SYNC_OPERATIONS.labels(outcome).inc(count)


def sync_pulled() -> None:
    SYNC_PULLS.inc()


def upload_created() -> None:
    UPLOAD_CREATIONS.inc()


def upload_bytes_received(count: int) -> None:
    if count:
        UPLOAD_BYTES.inc(count)


def upload_completed() -> None:
    UPLOAD_COMPLETIONS.inc()


def job_finished(job: str, outcome: str, seconds: float) -> None:
    JOBS.labels(job, outcome).inc()
    JOB_SECONDS.labels(job).observe(seconds)


def mark_worker_dead(pid: int) -> None:
    """A worker process exited (call from gunicorn's child_exit hook in multiprocess mode)."""
    if current_app.config.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid, current_app.config["PROMETHEUS_MULTIPROC_DIR"])


def allowed_networks(setting: str) -> list:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in setting.split(",") if part.strip()]


def address_allowed(address: str | None, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if getattr(ip, "ipv4_mapped", None) is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket is loopback all the same
    return any(ip.version == network.version and ip in network for network in networks)


def exposition() -> bytes:
    """The metrics in Prometheus text format: this process's, or every worker's in multiprocess mode."""
    directory = current_app.config.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry)


@bp.get("/metrics")
def metrics():
    """Prometheus metrics, for the monitoring networks only (METRICS_ALLOWED_NETWORKS)."""
    if not address_allowed(request.remote_addr, allowed_networks(current_app.config["METRICS_ALLOWED_NETWORKS"])):
        return problem_response(403, detail="运行指标只对监控网络开放，当前地址无权访问。", slug="metrics-forbidden")
    return current_app.response_class(exposition(), mimetype=None, headers={"Content-Type": CONTENT_TYPE_LATEST})
