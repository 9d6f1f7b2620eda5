"""The phone app's JavaScript tests (field_app/test/), run by Node's test runner.

CI runs only pytest, so this is how the JS tests run there: among them the evaluator against the
rulecheck conformance vectors and the envelope opener against envelopes sealed by Python. The
npm packages come from `make install` (npm ci from the lock file); without them this fails, and
does not skip, because a skipped conformance check is a check nobody ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FIELD_APP = Path(__file__).resolve().parents[2] / "field_app"


def test_field_app_js_tests_pass():
    node = shutil.which("node")
    if node is None:
        pytest.fail("找不到 node：请先运行 make install（安装 Node.js 与 field_app 的 npm 依赖）。")
    if not (FIELD_APP / "node_modules").is_dir():
        pytest.fail("field_app/node_modules 不存在：请先运行 make install（npm ci --ignore-scripts）。")
    # NODE_OPTIONS from the caller could change how node runs the tests; the runner's own colours
    # would clutter the failure output.
    env = {key: value for key, value in os.environ.items() if key != "NODE_OPTIONS"}
    env["NO_COLOR"] = "1"
    try:
        completed = subprocess.run(
            [node, "--test", "--test-reporter=spec", "test/"], cwd=FIELD_APP, env=env,
            capture_output=True, text=True, timeout=600,
        )
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"node --test 超过 {timeout.timeout} 秒未结束。\n{timeout.stdout or ''}{timeout.stderr or ''}")
    if completed.returncode != 0:
        pytest.fail(
            f"node --test test/ 以退出码 {completed.returncode} 结束：\n"
            f"{completed.stdout[-20000:]}\n{completed.stderr[-5000:]}",
            pytrace=False,
        )
