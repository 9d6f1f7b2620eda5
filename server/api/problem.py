"""The RFC 9457 problem document, for the OpenAPI description of every error response."""

import marshmallow as ma


class ProblemSchema(ma.Schema):
    class Meta:
        # RFC 9457 §3.2 extension members: a conflict names the state it met (`head`, `upload_offset`,
        # `constraint`...), and every answer may carry its request id; the document must allow them.
        unknown = ma.INCLUDE

    type = ma.fields.String(metadata={"description": "URI identifying the problem type"})
    title = ma.fields.String(metadata={"description": "Short summary (zh-CN)"})
    status = ma.fields.Integer(metadata={"description": "HTTP status code"})
    detail = ma.fields.String(metadata={"description": "Explanation of this occurrence (zh-CN)"})
    instance = ma.fields.String(metadata={"description": "The request path"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        metadata={"description": "Field name → list of messages, for invalid bodies and parameters"},
    )
