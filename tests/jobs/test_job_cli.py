"""`anfang job`: run today's daily job now (once a day, however often asked), list jobs, retry a
failed one; bad input is one Chinese line and exit 1."""

from __future__ import annotations

import re

import sqlalchemy as sa

from server.jobs.models.job import Job


def test_run_daily_list_and_retry(cli, db):
    first = cli.invoke(args=["job", "run-daily", "uploads.clean"])
    assert first.exit_code == 0, first.output
    match = re.fullmatch(r"任务 (\d+)（清理过期的未完成上传，\d{4}-\d\d-\d\d）：已完成。\n", first.output)
    assert match, first.output
    again = cli.invoke(args=["job", "run-daily", "uploads.clean"])
    assert again.output == first.output  # the same job: today's run happened already
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1
    listed = cli.invoke(args=["job", "list"])
    assert listed.exit_code == 0 and "清理过期的未完成上传" in listed.output and "已完成" in listed.output
    assert "共 1 项" in listed.output
    assert cli.invoke(args=["job", "list", "--state", "failed"]).output == "没有符合条件的任务。\n"
    refused = cli.invoke(args=["job", "retry", match.group(1)])
    assert refused.exit_code == 1 and refused.output.strip() == "错误：只能重试失败的任务。"
    job = db.session.get(Job, int(match.group(1)))
    job.state, job.error = "failed", "任务超时未完成。"
    db.session.commit()
    retried = cli.invoke(args=["job", "retry", match.group(1)])
    # No queue: it runs at once, and is done.
    assert retried.exit_code == 0 and retried.output == f"任务 {match.group(1)}（清理过期的未完成上传）：已完成。\n"


def test_unknown_daily_job_is_one_line(cli, db):
    result = cli.invoke(args=["job", "run-daily", "no.such"])
    assert result.exit_code == 1
    assert result.output.startswith("错误：没有名为“no.such”的每日任务（可选：draws.close_due、")
    assert len(result.output.strip().splitlines()) == 1
