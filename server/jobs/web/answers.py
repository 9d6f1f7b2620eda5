"""How a page answers with a job's file: the file when it is done, else a page that waits for it.

A domain's page asks for its work (`queue.submit`, with `retry_asked()`) and returns
`file_or_waiting(job, …)`: with no queue the job has run inline, so the file goes out at once, as
before there were jobs; with a queue the reader sees "生成中…", and the page reloads itself
(without the retry) until the file is there. A failure stays on the page until the reader asks
again with 重新生成.
"""

from __future__ import annotations

from flask import render_template, request, url_for

from ..files import result_file, send_result
from ..kinds import kind_label
from ..models.job import Job

REFRESH_SECONDS = 2
RETRY_ARG = "retry"


def retry_asked() -> bool:
    return request.args.get(RETRY_ARG) == "1"


def file_or_waiting(job: Job, *, title: str, back_url: str):
    if result_file(job) is not None:
        return send_result(job)
    failed = job.state == "failed"
    arguments = {name: value for name, value in request.args.items() if name != RETRY_ARG}
    page_url = url_for(request.endpoint, **request.view_args, **arguments)
    response = render_template("jobs/waiting.html", job=job, title=title, back_url=back_url, failed=failed,
                               kind_label=kind_label(job.kind), refresh=REFRESH_SECONDS, page_url=page_url,
                               retry_url=url_for(request.endpoint, **request.view_args, **arguments, retry="1"))
    # 202: accepted, not yet there. A failure is answered 200: the page is the answer.
    return response, 200 if failed else 202, {"Cache-Control": "no-store"}
