"""Schemas of an assignment's flagged offline reveals (server.field.reveal_checks)."""

import marshmallow as ma
from marshmallow import fields

from ...api.fields import StoredDateTime


class RevealAnomalySchema(ma.Schema):
    reported_by = fields.String(metadata={"description": "报告揭封的督查人员"})
    device_id = fields.String(allow_none=True, metadata={"description": "报告揭封的设备编号"})
    device_revealed_at = StoredDateTime(allow_none=True, metadata={"description": "设备时钟记下的揭封时间"})
    received_at = StoredDateTime(metadata={"description": "服务器收到揭封报告的时间"})
    clock_skew_seconds = fields.Float(allow_none=True, metadata={"description": "同步时设备时间减服务器时间（秒）"})
    flags = fields.List(fields.String(), metadata={"description": "异常提示（中文），供办公室核实"})


class RevealAnomaliesSchema(ma.Schema):
    assignment_id = fields.Integer()
    anomalies = fields.List(fields.Nested(RevealAnomalySchema), metadata={
        "description": "按任务时间窗口核对有异常的离线揭封，先到先列；没有时为空"})
