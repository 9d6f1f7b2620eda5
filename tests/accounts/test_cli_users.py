"""`anfang user …` and `anfang token …`: Chinese one-line answers, exit 1 on bad input, no tracebacks."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from server.accounts.auth import TOKEN_PREFIX_LENGTH
from server.accounts.models.user import DeviceToken, User
from server.accounts.passwords import verify_password
from server.audit.models.audit import AuditEvent
from server.registry.models.reference import County, Department

PASSWORD = "long enough 42"


@pytest.fixture
def names(db):
    """A department and a county with unique codes, committed (a failing command rolls back)."""
    tag = uuid.uuid4().hex[:8]
    department = Department(code=f"d{tag}", name=f"测试局{tag}", short_name=f"测局{tag}")
    county = County(code=f"k{tag}", name=f"测试县{tag}", kind="county")
    db.session.add_all([department, county])
    db.session.commit()
    return department, county


def username(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(cli, name, *options, password=PASSWORD):
    return cli.invoke(args=["user", "create", name, *options, "--password-stdin"], input=f"{password}\n")


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("错误：")
    for fragment in fragments:
        assert fragment in lines[0]


def get_user(db, name) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == name))


# --- user create ----------------------------------------------------------------------------


def test_create_with_password_from_stdin(cli, db):
    name = username()
    result = create(cli, name, "--role", "office", "--display-name", "王主任")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"已创建用户 {name}（领导小组办公室）。"
    user = get_user(db, name)
    assert user.role == "office" and user.display_name == "王主任" and user.is_active
    assert verify_password(user.password_hash, PASSWORD)
    assert PASSWORD not in user.password_hash
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.created",
                                                          AuditEvent.object_id == str(user.id)))
    assert event.channel == "cli" and event.details["role"] == "office"


def test_create_prompts_twice_for_the_password(cli, db):
    name = username()
    result = cli.invoke(args=["user", "create", name, "--role", "auditor"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "再次输入密码" in result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert verify_password(get_user(db, name).password_hash, PASSWORD)


def test_create_refuses_different_passwords(cli, db):
    name = username()
    result = cli.invoke(args=["user", "create", name, "--role", "auditor"], input=f"{PASSWORD}\nsomething else\n")
    assert_one_line_error(result, "两次输入的密码不一致")
    assert get_user(db, name) is None


def test_department_and_county_by_code_or_name(cli, db, names):
    department, county = names
    by_code, by_name, by_short = username("dc"), username("dn"), username("ds")
    assert create(cli, by_code, "--role", "department", "--department", department.code).exit_code == 0
    assert create(cli, by_name, "--role", "county", "--county", county.name).exit_code == 0
    assert create(cli, by_short, "--role", "department", "--department", department.short_name).exit_code == 0
    assert get_user(db, by_code).department_id == department.id
    assert get_user(db, by_name).county_id == county.id
    assert get_user(db, by_short).department_id == department.id


def test_inspector_with_certificate(cli, db, names):
    department, county = names
    name, certificate = username("i"), f"ZJ{uuid.uuid4().hex[:8]}"
    result = create(cli, name, "--role", "inspector", "--department", department.code, "--county", county.code,
                    "--certificate", certificate)
    assert result.exit_code == 0, result.output
    assert department.name in result.output and county.name in result.output
    assert get_user(db, name).enforcement_certificate_no == certificate


@pytest.mark.parametrize("options, fragments", [
    (["--role", "boss"], ["未知角色", "boss", "office"]),
    (["--role", "department"], ["必须指定所属部门"]),
    (["--role", "county"], ["必须指定所属县市区"]),
    (["--role", "department", "--department", "no-such-dept"], ["no-such-dept"]),
    (["--role", "county", "--county", "无此县"], ["无此县"]),
    (["--role", "propaganda", "--certificate", "ZJ1"], ["执法证号"]),
])
def test_create_refuses_bad_input_in_one_line(cli, db, options, fragments):
    name = username()
    assert_one_line_error(create(cli, name, *options), *fragments)
    assert get_user(db, name) is None


def test_create_refuses_a_short_password(cli, db):
    name = username()
    assert_one_line_error(create(cli, name, "--role", "office", password="short"), "密码至少需要")
    assert get_user(db, name) is None


def test_create_refuses_a_bad_username(cli):
    assert_one_line_error(create(cli, "有 空格", "--role", "office"), "用户名")


def test_create_refuses_a_duplicate_username(cli, db):
    name = username()
    assert create(cli, name, "--role", "office").exit_code == 0
    assert_one_line_error(create(cli, name, "--role", "admin"), "已存在")
    assert get_user(db, name).role == "office"


def test_certificate_numbers_are_unique(cli, db):
    certificate = f"ZJ{uuid.uuid4().hex[:8]}"
    first = username("i")
    assert create(cli, first, "--role", "inspector", "--certificate", certificate).exit_code == 0
    second = username("i")
    assert_one_line_error(create(cli, second, "--role", "inspector", "--certificate", certificate),
                          certificate, first)
    assert get_user(db, second) is None


def test_role_and_label_are_required_in_chinese(cli, inspector):
    assert_one_line_error(cli.invoke(args=["user", "create", username()], input=f"{PASSWORD}\n"), "--role")
    assert_one_line_error(cli.invoke(args=["token", "issue", inspector.username]), "--label")


# --- user list ------------------------------------------------------------------------------


def test_user_list_shows_users_with_their_scope(cli, names):
    department, _ = names
    name = username("d")
    create(cli, name, "--role", "department", "--department", department.code)
    result = cli.invoke(args=["user", "list"])
    assert result.exit_code == 0
    line = next(line for line in result.output.splitlines() if f"\t{name}\t" in line)
    assert "行业部门" in line and department.name in line and "启用" in line


# --- tokens ---------------------------------------------------------------------------------


@pytest.fixture
def inspector(cli, db):
    name = username("i")
    assert create(cli, name, "--role", "inspector").exit_code == 0
    return get_user(db, name)


def issue(cli, user, label="张三的手机"):
    return cli.invoke(args=["token", "issue", user.username, "--label", label])


def test_token_issue_prints_the_token_once_and_it_works(cli, client, db, inspector):
    result = issue(cli, inspector)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(token.splitlines()) == 1 and len(token) >= 40
    assert "只显示这一次" in result.stderr
    row = db.session.scalar(sa.select(DeviceToken).where(DeviceToken.user_id == inspector.id))
    assert row.prefix == token[:TOKEN_PREFIX_LENGTH] and token not in (row.token_hash, row.label)

    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["user"]["username"] == inspector.username

    listing = cli.invoke(args=["token", "list", inspector.username]).output
    assert token[:TOKEN_PREFIX_LENGTH] in listing and token not in listing


def test_token_issue_for_an_unknown_user(cli):
    assert_one_line_error(cli.invoke(args=["token", "issue", "nobody-x", "--label", "手机"]), "nobody-x", "不存在")


def test_token_list_states_and_filter(cli, db, inspector):
    issue(cli, inspector, "手机")
    issue(cli, inspector, "平板")
    rows = db.session.scalars(sa.select(DeviceToken).where(DeviceToken.user_id == inspector.id)
                              .order_by(DeviceToken.id)).all()
    cli.invoke(args=["token", "revoke", str(rows[1].id)])

    lines = cli.invoke(args=["token", "list", inspector.username]).output.splitlines()
    assert lines[0].startswith("编号")
    assert len(lines) == 3
    assert lines[1].startswith(f"{rows[0].id}\t") and lines[1].endswith("有效")
    assert lines[2].startswith(f"{rows[1].id}\t") and lines[2].endswith("已吊销")
    everyone = cli.invoke(args=["token", "list"]).output
    assert rows[0].prefix in everyone
    assert_one_line_error(cli.invoke(args=["token", "list", "nobody-x"]), "nobody-x")


def test_revoke_by_id_and_by_prefix(cli, client, db, inspector):
    first = issue(cli, inspector, "手机").stdout.strip()
    second = issue(cli, inspector, "平板").stdout.strip()
    first_row = db.session.scalar(sa.select(DeviceToken).where(DeviceToken.prefix == first[:TOKEN_PREFIX_LENGTH]))

    by_id = cli.invoke(args=["token", "revoke", str(first_row.id)])
    assert by_id.exit_code == 0
    assert by_id.output.strip().startswith(f"已吊销令牌 {first_row.id}")
    by_prefix = cli.invoke(args=["token", "revoke", second[:TOKEN_PREFIX_LENGTH]])
    assert by_prefix.exit_code == 0 and "已吊销令牌" in by_prefix.output

    for token in (first, second):
        assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    again = cli.invoke(args=["token", "revoke", str(first_row.id)])
    assert again.exit_code == 0 and "此前已被吊销" in again.output
    revoked = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "token.revoked",
                                                             AuditEvent.object_id == str(first_row.id))).all()
    assert len(revoked) == 1 and revoked[0].channel == "cli"


def test_revoke_unknown_token(cli):
    assert_one_line_error(cli.invoke(args=["token", "revoke", "zzzz-none"]), "zzzz-none")


def test_times_are_printed_in_beijing_time(cli, db):
    """A token issued at 16:30 UTC was issued at 00:30 the next day in Beijing; that is what is printed."""
    from datetime import datetime, timezone

    from server.accounts.auth import issue_device_token
    from server.accounts.models.user import User

    user = User(username="beijing-time", display_name="北京时间", role="inspector")
    db.session.add(user)
    db.session.flush()
    _raw, token = issue_device_token(user, "测试设备", channel="cli")
    token.issued_at = datetime(2026, 3, 10, 16, 30, tzinfo=timezone.utc)
    db.session.commit()
    result = cli.invoke(args=["token", "list"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "beijing-time" in line)
    assert "2026-03-11 00:30" in line and "2026-03-10 16:30" not in line
    assert "北京时间" in result.output
