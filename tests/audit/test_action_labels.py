"""Every action the code writes to the audit log has a Chinese label: the log page never falls
back to a generic phrase for an action it knows."""

from __future__ import annotations

import ast
from pathlib import Path

from server.audit import labels

SERVER = Path(__file__).resolve().parents[2] / "server"


def written_actions() -> set[str]:
    actions = set()
    for path in SERVER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "record_event"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                actions.add(node.args[0].value)
    return actions


def test_every_written_action_has_a_chinese_label():
    actions = written_actions()
    assert len(actions) > 50, actions
    missing = sorted(a for a in actions if a not in labels.ACTION_LABELS)
    assert not missing, missing
