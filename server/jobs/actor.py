"""Who the daily jobs act as: an office user or administrator named in the config."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from ..accounts.models.user import User
from ..errors import Invalid
from ..extensions import db


def scheduled_actor() -> User:
    username = current_app.config.get("SCHEDULED_JOBS_ACTOR")
    if not username:
        raise Invalid("未配置定时任务的操作人：请将 SCHEDULED_JOBS_ACTOR 设为一名领导小组办公室人员"
                      "或系统管理员的用户名。")
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None or not user.is_active:
        raise Invalid(f"定时任务的操作人“{username}”不存在或已停用。")
    return user
