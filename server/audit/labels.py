"""What the audit log's codes mean, in Chinese, for the pages and the CLI.

The log stores stable codes (`auth.login`, object type `user`): they are hashed into the chain and
must never change, so people read them through these labels. The codes are written where each
domain calls `record_event`; the audit package sits below every domain (it may not import
them), so their words are repeated here. A code without a label still reads as Chinese: its
domain's generic phrase ("案件相关操作"), never the raw code.
"""

from __future__ import annotations

from .chain import SYSTEM_ACTOR

ACTION_LABELS = {
    # accounts
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "auth.locked": "账号被锁定",
    "user.created": "新建用户",
    "user.updated": "修改用户",
    "user.deactivated": "停用用户",
    "user.reactivated": "重新启用用户",
    "user.unlocked": "解除账号锁定",
    "user.password_reset": "重置密码",
    "token.issued": "签发访问令牌",
    "token.revoked": "吊销访问令牌",
    "inspector.imported": "导入督查人员",
    # audit
    "audit.checkpoint_signed": "签署链头检查点",
    "audit.checkpoint_key_registered": "登记审计人员公钥",
    # registry
    "reference.loaded": "载入参考数据",
    "venue.created": "新增场所",
    "venue.updated": "修改场所",
    "venue.merged": "合并场所信息",
    "venue.closed": "关闭场所",
    "venue.imported": "导入场所",
    # draws
    "draw.created": "创建抽查",
    "draw.seeded": "录入随机数并抽取",
    "draw.closed": "关闭抽查",
    "draw.cancelled": "取消抽查",
    "draw.exported": "导出抽查结果",
    "assignment.dispatched": "派发督查任务",
    "assignment.revealed": "开启督查任务",
    "assignment.started": "开始检查",
    "assignment.submitted": "提交检查",
    "assignment.closed": "办结督查任务",
    "assignment.cancelled": "取消督查任务",
    "assignment.expired": "督查任务过期",
    "assignment.key_released": "发放任务密钥",
    "assignment.target_read": "查看督查目标",
    "assignment.reveal_flagged": "开启时间异常",
    # field
    "inspection.checked_in": "现场签到",
    "inspection.checkin_flagged": "签到位置异常",
    "inspection.submitted": "提交督查记录",
    "inspection.completed": "督查记录完成",
    "inspection.signed": "当事人签字",
    "inspection.amended": "更正督查记录",
    "inspection.parallel_record": "提交并行记录",
    "inspection.record_adopted": "采用并行记录",
    "evidence.stored": "保存证据照片",
    "photo.position_flagged": "照片位置异常",
    # enforcement (the case states as server.enforcement.cases words them)
    "violation.declined": "不予立案",
    "case.opened": "立案",
    "case.investigating": "开始调查取证",
    "case.notified": "告知拟处罚",
    "case.decided": "作出处罚决定",
    "case.served": "登记送达",
    "case.executed": "登记执行",
    "case.closed": "结案",
    "case.no_penalty": "不予处罚",
    "case.revoked": "撤销案件",
    "case.rectification_ordered": "责令整改",
    "case.rectification_passed": "整改复查合格",
    "case.rectification_failed": "整改复查不合格",
    "rectification.issued": "下达整改通知",
    "rectification.escalated": "整改逾期升级",
    "rectification.withdrawn": "撤回整改通知",
    "rectification.reinspection_scheduled": "安排整改复查",
    "rectification.passed": "整改复查合格",
    "rectification.failed": "整改复查不合格",
    "rectification.reported_done": "报告整改完成",
    "rectification.report_confirmed": "确认整改完成",
    "rectification.report_returned": "退回整改完成报告",
    "document.issued": "出具文书",
    "document.verified": "核验文书",
    "legal_basis.created": "新增法律依据",
    "legal_basis.updated": "修改法律依据",
    # oversight
    "accountability.created": "起草倒查问责报告",
    "accountability.reviewed": "审核倒查问责报告",
    "accountability.issued": "印发倒查问责报告",
    # publicity
    "material.collected": "收集典型材料",
    "material.flagged": "标记典型材料",
    "material.updated": "修改典型材料",
    "material.reviewed": "审核典型材料",
    "material.boxes_set": "设置遮挡区域",
    "bulletin.created": "新建简报",
    "bulletin.updated": "修改简报",
    "bulletin.item_added": "简报加入材料",
    "bulletin.item_removed": "简报移出材料",
    "bulletin.item_moved": "调整简报材料顺序",
    "bulletin.item_worded": "修改简报材料文字",
    "bulletin.submitted": "提交简报审核",
    "bulletin.approved": "简报审核通过",
    "bulletin.returned": "退回简报修改",
    "bulletin.published": "发布简报",
    # jobs
    "job.retried": "重试后台任务",
    # demo
    "demo.seeded": "生成演示数据",
    "demo.week_seeded": "生成演示检查",
}

OBJECT_TYPE_LABELS = {
    "user": "用户",
    "device_token": "访问令牌",
    "user_import": "督查人员导入",
    "audit_checkpoint": "审计链检查点",
    "auditor_key": "审计人员公钥",
    "reference": "参考数据",
    "venue": "场所",
    "venue_import": "场所导入",
    "draw": "抽查",
    "assignment": "督查任务",
    "inspection": "督查记录",
    "evidence_file": "证据照片",
    "violation": "违规问题",
    "enforcement_case": "案件",
    "rectification_order": "整改通知",
    "document": "文书",
    "legal_basis": "法律依据",
    "accountability_case": "倒查问责报告",
    "material_item": "典型材料",
    "bulletin": "简报",
    "job": "后台任务",
    "demo": "演示数据",
}

# An action's prefix → what it concerns, for codes added later without a label.
_ACTION_DOMAINS = {
    "auth": "登录", "user": "用户", "token": "访问令牌", "inspector": "督查人员", "audit": "审计",
    "reference": "参考数据", "venue": "场所", "draw": "抽查", "assignment": "督查任务",
    "inspection": "督查记录", "evidence": "证据照片", "photo": "照片", "violation": "违规问题",
    "case": "案件", "rectification": "整改", "document": "文书", "legal_basis": "法律依据",
    "accountability": "倒查问责", "material": "典型材料", "bulletin": "简报", "job": "后台任务",
    "demo": "演示数据",
}

SYSTEM_LABEL = "系统"


def action_label(action: str | None) -> str:
    """The Chinese for an audit action code."""
    if not action:
        return "—"
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    domain = _ACTION_DOMAINS.get(action.split(".", 1)[0])
    return f"{domain}相关操作" if domain else "其他操作"


def object_type_label(object_type: str | None) -> str:
    return OBJECT_TYPE_LABELS.get(object_type or "", "对象")


def object_label(object_type: str | None, object_id: str | None) -> str:
    """`user`, `7` → 用户 7; no type → the id alone; neither → —."""
    if not object_type:
        return object_id or "—"
    label = object_type_label(object_type)
    return f"{label} {object_id}" if object_id else label


def actor_label(label: str | None) -> str:
    """The username, or 系统 for events the system records on its own."""
    return SYSTEM_LABEL if label == SYSTEM_ACTOR else (label or "—")


def actor_filter_value(text: str | None) -> str | None:
    """What a person types in the actor filter: a username, or 系统 (the code `system` also works)."""
    text = (text or "").strip()
    if not text:
        return None
    return SYSTEM_ACTOR if text == SYSTEM_LABEL else text
