"""`anfang`: the server's admin command line (Flask's CLI with the project's commands)."""

from __future__ import annotations

from flask.cli import FlaskGroup


def register_cli(app) -> None:
    from .assignments import assignment_cli
    from .audit import audit_cli
    from .bulletins import bulletin_cli
    from .demo import demo_cli
    from .documents import document_cli
    from .draws import draw_cli
    from .evidence import evidence_cli
    from .rectification import rectification_cli
    from .reference import reference_cli
    from .report import report_cli
    from .users import token_cli, user_cli

    for group in (assignment_cli, audit_cli, bulletin_cli, demo_cli, document_cli, draw_cli, evidence_cli,
                  rectification_cli, reference_cli, report_cli, token_cli, user_cli):
        app.cli.add_command(group)


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
