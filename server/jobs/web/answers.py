"""How a page answers with a job's file: the file when it is done, else a page that waits for it.

A domain's page asks for its work (`queue.submit`) and returns `file_or_waiting(job, …)`: with no
queue the job has run inline, so the file goes out at once, as before there were jobs; with a
queue the reader sees "生成中…", and the page reloads itself until the file is there.
"""

from __future__ import annotations

from io import BytesIO

from flask import render_template, request, send_file

from ..files import result_file
from ..kinds import kind_label
from ..models.job import Job

REFRESH_SECONDS = 2


def file_or_waiting(job: Job, *, title: str, back_url: str, as_attachment: bool = False):
    path = result_file(job)
    if path is not None:
        # Read whole (a draft is a few MB): no file handle is left to whoever closes the response.
        response = send_file(BytesIO(path.read_bytes()), mimetype=job.result["media_type"],
                             as_attachment=as_attachment, download_name=job.result["download_name"])
        response.headers["Cache-Control"] = "private, no-store"
        return response
    failed = job.state == "failed"
    response = render_template("jobs/waiting.html", job=job, title=title, back_url=back_url, failed=failed,
                               kind_label=kind_label(job.kind), refresh=None if failed else REFRESH_SECONDS,
                               retry_url=request.full_path if failed else None)
    # 202: accepted, not yet there. A failure is answered 200: the page is the answer.
    return response, 200 if failed else 202, {"Cache-Control": "no-store"}
