"""How a page answers with a job's file: the file when it is done, else the job's own page.

A domain's page asks for its work (`queue.submit`) and returns `file_or_job_page(job)`: with no
queue the job has run inline, so the file goes out at once, as before there were jobs; with a
queue the reader goes to /jobs/<id> ("生成中…"), which reloads itself until the file is there.
The job's page follows that one job: asking the domain's page again could name new work (the
records changed meanwhile), and a reload must not start it.
"""

from __future__ import annotations

from flask import redirect, url_for

from ..files import result_file, send_result
from ..models.job import Job


def file_or_job_page(job: Job):
    if result_file(job) is not None:
        return send_result(job)
    return redirect(url_for("web_job_pages.show", job_id=job.id), 303)
