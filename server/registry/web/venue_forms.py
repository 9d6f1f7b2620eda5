"""The forms of the register's pages (each carries a CSRF token). They only collect what was
typed: the values are checked by server.registry.venue_values, the same rules as the API and
the imports, and its messages are shown next to the fields."""

from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ...web.chinese_form import ChineseForm


class VenueForm(ChineseForm):
    name = StringField("名称")
    category = SelectField("类别", coerce=str)
    county = SelectField("县（市、区）", coerce=str)
    town = StringField("乡镇（街道）")
    address = StringField("地址")
    operator_name = StringField("经营者")
    contact_phone = StringField("联系电话")
    credit_code = StringField("统一社会信用代码")
    approved_capacity = StringField("核定人数")
    rooms = StringField("包厢座位数")
    longitude = StringField("经度")
    latitude = StringField("纬度")
    merge = BooleanField("如与已登记场所重复（同一信用代码或同名同地址），以本次信息更新该场所")


class CloseVenueForm(ChineseForm):
    reason = TextAreaField("关闭理由", validators=[
        DataRequired(message="请说明关闭理由。"), Length(min=4, max=256, message="关闭理由为 4–256 个字。")])


class ImportForm(ChineseForm):
    kind = SelectField("导入内容", default="venues")  # choices: server.registry.importers, set by the view
    file = FileField("文件（XLSX 或 CSV，按模板填写）")
    merge = BooleanField("与已登记场所重复的行，以文件内容更新该场所（默认拒绝）")


class ConfirmImportForm(ChineseForm):
    """The checked file travels back with the confirmation and is checked again in full."""

    kind = HiddenField()
    filename = HiddenField()
    content = HiddenField()
    merge = HiddenField()
