"""Background jobs: slow work (draft PDFs, photo variants) and the daily jobs, off the request.

`queue.submit` asks for work; a `models.job.Job` row records it whichever way it runs: on RQ
(Redis) in `anfang worker`, or inline when no queue is configured. Each domain registers its
kinds in its own `jobs` module (`kinds.job_kind`); `schedule` fires the daily ones at their
Beijing times; `web` shows a waiting page to whoever asked and the failures to the admin.
"""
