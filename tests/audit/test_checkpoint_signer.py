"""The auditor's signing command (checkpoint_signer, `anfang-checkpoint`) runs on a machine with none
of the server: a copy of the package alone, in a clean environment, with the server's packages and
its web and database libraries refused at import. It makes a key (0600), signs a head the server
exported, and the server takes what it signed."""

from __future__ import annotations

import configparser
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from server.audit import checkpoints as service
from server.audit.chain import record_event
from server.audit.models.checkpoint import AuditCheckpoint

ROOT = Path(__file__).resolve().parents[2]

# Run as the auditor's machine would: only the standard library and cryptography may be imported.
LAUNCHER = '''
import runpy, sys
REFUSED = {"server", "sealing", "field_client", "rulecheck", "flask", "sqlalchemy", "click", "werkzeug", "jinja2"}
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in REFUSED:
            raise ImportError("refused on the auditor's machine: " + name)
        return None
sys.meta_path.insert(0, Refuse())
sys.argv = ["anfang-checkpoint"] + sys.argv[1:]
runpy.run_module("checkpoint_signer", run_name="__main__", alter_sys=True)
'''


@pytest.fixture
def auditor_machine(tmp_path):
    machine = tmp_path / "auditor"
    machine.mkdir()
    shutil.copytree(ROOT / "checkpoint_signer", machine / "checkpoint_signer",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (machine / "launch.py").write_text(LAUNCHER, "utf-8")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "launch.py", *args], cwd=machine, capture_output=True, text=True, check=False,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(machine), "LANG": "C.UTF-8"}, timeout=60)

    run.directory = machine
    return run


def test_the_auditor_signs_on_their_own_machine_and_the_server_takes_it(db, cli, auditor_machine):
    made = auditor_machine("keygen", "--out", "auditor.key")
    assert made.returncode == 0, made.stderr
    key_file = auditor_machine.directory / "auditor.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public_key = next(line.split("：", 1)[1] for line in made.stdout.splitlines() if line.startswith("公钥："))
    assert b"PRIVATE KEY" in key_file.read_bytes()

    record_event("test.signer", details={"n": 1})
    exported = cli.invoke(args=["audit", "checkpoint"])
    (auditor_machine.directory / "head.json").write_text(exported.stdout, "utf-8")
    signed = auditor_machine("sign", "head.json", "--key", "auditor.key", "--out", "checkpoint.json")
    assert signed.returncode == 0, signed.stderr
    document = json.loads((auditor_machine.directory / "checkpoint.json").read_text("utf-8"))
    assert document["public_key"] == public_key
    assert document["head"] == json.loads(exported.stdout)

    checked = auditor_machine("verify", "checkpoint.json", "--public-key", public_key)
    assert checked.returncode == 0 and "签名有效" in checked.stdout

    service.register_key(public_key, "纪检")
    row = service.add_checkpoint((auditor_machine.directory / "checkpoint.json").read_bytes())
    assert isinstance(row, AuditCheckpoint) and row.hash == document["head"]["hash"]


def test_the_signer_never_overwrites_and_speaks_one_chinese_line(auditor_machine):
    assert auditor_machine("keygen", "--out", "auditor.key").returncode == 0
    original = (auditor_machine.directory / "auditor.key").read_bytes()
    again = auditor_machine("keygen", "--out", "auditor.key")
    assert again.returncode == 1 and "不会覆盖" in again.stderr
    assert (auditor_machine.directory / "auditor.key").read_bytes() == original

    (auditor_machine.directory / "bad.json").write_text('{"format": "anfang-audit-head/1", "seq": -1}', "utf-8")
    head = {"format": "anfang-audit-head/1", "seq": 3, "hash": "ab" * 32, "time": "2026-12-04T02:00:00Z"}
    (auditor_machine.directory / "head.json").write_text(json.dumps(head), "utf-8")
    for args, words in ((("sign", "bad.json", "--key", "auditor.key"), "审计链头须恰好包含"),
                        (("sign", "none.json", "--key", "auditor.key"), "无法读取链头文件"),
                        (("sign", "head.json", "--key", "bad.json"), "私钥文件无法读取"),
                        (("verify", "bad.json"), "不是已签名的检查点")):
        result = auditor_machine(*args)
        assert result.returncode == 1, result
        assert result.stderr.startswith("错误：") and words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    usage = auditor_machine("sign")
    assert usage.returncode == 2 and "缺少参数" in usage.stderr and "required" not in usage.stderr


def test_a_tampered_checkpoint_fails_the_signers_own_check(auditor_machine, tmp_path):
    assert auditor_machine("keygen", "--out", "auditor.key").returncode == 0
    head = {"format": "anfang-audit-head/1", "seq": 3, "hash": "ab" * 32, "time": "2026-12-04T02:00:00Z"}
    (auditor_machine.directory / "head.json").write_text(json.dumps(head), "utf-8")
    assert auditor_machine("sign", "head.json", "--key", "auditor.key", "--out", "c.json").returncode == 0
    document = json.loads((auditor_machine.directory / "c.json").read_text("utf-8"))
    document["head"]["seq"] = 4
    (auditor_machine.directory / "c.json").write_text(json.dumps(document), "utf-8")
    result = auditor_machine("verify", "c.json")
    assert result.returncode == 1 and "签名无效" in result.stderr


def test_the_signer_ships_as_a_package_with_its_console_script():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    assert "checkpoint_signer" in config["options.packages.find"]["include"].split()
    scripts = [line.strip() for line in config["options.entry_points"]["console_scripts"].splitlines()]
    assert "anfang-checkpoint = checkpoint_signer.cli:main" in scripts
    sources = "\n".join(path.read_text("utf-8") for path in (ROOT / "checkpoint_signer").glob("*.py"))
    assert "from server" not in sources and "import server" not in sources
