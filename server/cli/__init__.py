"""`anfang`: the server's admin command line (Flask's CLI with the project's commands)."""

from __future__ import annotations

from flask.cli import FlaskGroup


def register_cli(app) -> None:
    from ..accounts.cli import registry_imports  # noqa: F401  (the import commands of the registry group)
    from ..accounts.cli.users import token_cli, user_cli
    from ..audit.cli.audit import audit_cli
    from ..backup.cli.backup import backup_cli
    from ..demo.cli.demo import demo_cli
    from ..draws.cli import seed_contribution  # noqa: F401  (a command of the draw group)
    from ..draws.cli.assignments import assignment_cli
    from ..draws.cli.draws import draw_cli
    from ..enforcement.cli.documents import document_cli
    from ..enforcement.cli.rectification import rectification_cli
    from ..field.cli.evidence import evidence_cli
    from ..jobs.cli.jobs import job_cli, worker_command
    from ..oversight.cli.report import report_cli
    from ..publicity.cli.bulletins import bulletin_cli
    from ..registry.cli.reference import reference_cli
    from ..registry.cli.registry import registry_cli

    for group in (assignment_cli, audit_cli, backup_cli, bulletin_cli, demo_cli, document_cli, draw_cli, evidence_cli,
                  rectification_cli, reference_cli, registry_cli, report_cli, token_cli, user_cli, job_cli):
        app.cli.add_command(group)
    app.cli.add_command(worker_command)


def _create_app():
    from .. import create_app

    return create_app()


main = FlaskGroup(
    name="anfang",
    help="anfang 暗访督查系统服务器管理命令。",
    create_app=_create_app,
    load_dotenv=False,
    set_debug_flag=False,
)

from .serve import serve_command  # noqa: E402  (it builds and checks the app itself, before the workers do)

main.add_command(serve_command)
