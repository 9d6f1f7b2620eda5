"""The propaganda role's headline numbers (server.oversight.headlines draws and scopes them):
material awaiting the office's review, material approved for use, and bulletins — what this
reader may see of them by the material and bulletin policies."""

from __future__ import annotations

from datetime import date

from ..access import scope_filter
from ..accounts.models.user import User
from ..oversight.headlines import Headline, count, headlines_for, moments, stock
from .models.material import Bulletin, MaterialItem


def materials_awaiting_review(user: User, today: date) -> Headline:
    scope = scope_filter(user, "read", MaterialItem)
    value = count(MaterialItem, scope, MaterialItem.state == "candidate")
    return stock("materials_candidate", "待审核的材料", value, "条", "每日新增的材料",
                 moments(MaterialItem.created_at, today, scope), today, "web_materials.list_materials")


def materials_approved(user: User, today: date) -> Headline:
    scope = scope_filter(user, "read", MaterialItem)
    value = count(MaterialItem, scope, MaterialItem.state == "approved")
    return stock("materials_approved", "可用的典型材料", value, "条", "每日审核通过的材料",
                 moments(MaterialItem.reviewed_at, today, scope, MaterialItem.state == "approved"), today,
                 "web_materials.list_materials")


def bulletins_in_review(user: User, today: date) -> Headline:
    """Bulletins this reader submitted (or may see) that the office has not yet approved."""
    scope = scope_filter(user, "read", Bulletin)
    value = count(Bulletin, scope, Bulletin.state == "submitted")
    return stock("bulletins_submitted", "待办公室审核的简报", value, "期", "每日提交的简报",
                 moments(Bulletin.submitted_at, today, scope), today, "web_materials.list_bulletins")


def bulletins_published(user: User, today: date) -> Headline:
    scope = scope_filter(user, "read", Bulletin)
    value = count(Bulletin, scope, Bulletin.state == "published")
    return stock("bulletins_published", "已发布的简报", value, "期", "每日发布的简报",
                 moments(Bulletin.published_at, today, scope), today, "web_materials.list_bulletins")


headlines_for("propaganda", materials_awaiting_review, materials_approved, bulletins_in_review, bulletins_published)
