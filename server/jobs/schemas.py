"""What the API says about a job: its state in words, and where its file is once done."""

import marshmallow as ma
from marshmallow import fields

from ..api.fields import StoredDateTime


class JobSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    label = fields.String(metadata={"description": "任务名称"})
    state = fields.String(metadata={"description": "queued、running、done 或 failed"})
    state_label = fields.String(metadata={"description": "状态：排队中、生成中、已完成、失败"})
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    error = fields.String(allow_none=True, metadata={"description": "最近一次失败的原因"})
    created_at = StoredDateTime()
    finished_at = StoredDateTime(allow_none=True)
    file_url = fields.String(allow_none=True, metadata={"description": "完成后文件的地址"})
