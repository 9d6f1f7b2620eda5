"""A venue's registered values read and checked from what a person typed (a form, a JSON body
or a spreadsheet row): the same rules and the same Chinese messages on every channel.

Values are held as a plain dict (`VALUE_FIELDS`), the form stored in each `venue_version` row:
category and county by code, coordinates as decimal strings, rooms as a list of name and seats.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from ..extensions import db
from .credit_code import CreditCodeError, normalise
from .models.venue import Venue, VenueRoom
from .venue_register import RegisterReference

# Field → the label a person reads (the template's column heading).
FIELD_LABELS = {
    "name": "名称",
    "category": "类别",
    "county": "县（市、区）",
    "town": "乡镇（街道）",
    "address": "地址",
    "operator_name": "经营者",
    "credit_code": "统一社会信用代码",
    "approved_capacity": "核定人数",
    "rooms": "包厢座位数",
    "longitude": "经度",
    "latitude": "纬度",
    "contact_phone": "联系电话",
}
VALUE_FIELDS = tuple(FIELD_LABELS)
REQUIRED = ("name", "category", "county", "town", "address")
MAX_LENGTHS = {"name": 128, "town": 64, "address": 256, "operator_name": 64, "contact_phone": 32}
MAX_CAPACITY = 1_000_000
MAX_SEATS = 500
ROOM_FORMAT_MESSAGE = "格式应为“包厢名:座位数”，多个包厢用分号分隔，如 包厢A:12;包厢B:8。"
_ROOM_SEPARATORS = re.compile(r"[;；]")
_SPACES = re.compile(r"\s+")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet cell holding 800 reads as 800.0
    return _SPACES.sub(" ", str(value)).strip()


def parse_rooms(value) -> list[dict]:
    """Rooms from "包厢A:12;包厢B:8" or a list of {"name", "seats"}; ValueError with the message."""
    if isinstance(value, list):
        entries = [(_text(room.get("name")), room.get("seats")) for room in value if isinstance(room, dict)]
        if len(entries) != len(value):
            raise ValueError("每个包厢应给出 name（包厢名）和 seats（座位数）。")
    else:
        entries = []
        for part in filter(None, (piece.strip() for piece in _ROOM_SEPARATORS.split(_text(value)))):
            name, colon, seats = part.replace("：", ":").rpartition(":")
            if not colon or not name.strip():
                raise ValueError(f"“{part}”{ROOM_FORMAT_MESSAGE}")
            entries.append((name.strip(), seats.strip()))
    rooms, seen = [], set()
    for name, seats in entries:
        if not name or len(name) > 64:
            raise ValueError("包厢名不能为空，且不超过 64 个字符。")
        if name in seen:
            raise ValueError(f"包厢“{name}”重复。")
        seen.add(name)
        number = _whole_number(seats)
        if number is None or not 1 <= number <= MAX_SEATS:
            raise ValueError(f"包厢“{name}”的座位数应为 1 到 {MAX_SEATS} 之间的整数。")
        rooms.append({"name": name, "seats": number})
    return rooms


def _whole_number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = _text(value)
    if isinstance(value, float):
        return None
    return int(text) if text.isdigit() else None


def _coordinate(value) -> Decimal | None:
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        return None
    return number.quantize(Decimal("0.000001")) if number.is_finite() else None


def check_values(raw: dict, reference: RegisterReference) -> tuple[dict, dict[str, list[str]]]:
    """The values of `raw` (every field of VALUE_FIELDS, missing ones blank) checked and cleaned:
    (values, errors by field). `values` is complete only when there are no errors."""
    errors: dict[str, list[str]] = {}
    values: dict = {}

    def problem(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for field in ("name", "town", "address", "operator_name", "contact_phone"):
        text = _text(raw.get(field))
        if not text and field in REQUIRED:
            problem(field, f"请填写{FIELD_LABELS[field]}。")
        elif len(text) > MAX_LENGTHS[field]:
            problem(field, f"{FIELD_LABELS[field]}不超过 {MAX_LENGTHS[field]} 个字符。")
        values[field] = text or None

    category = county = None
    for field, table in (("category", reference.categories), ("county", reference.counties)):
        text = _text(raw.get(field))
        if not text:
            problem(field, f"请填写{FIELD_LABELS[field]}。")
        elif text not in table:
            problem(field, f"没有名称或代码为“{text[:40]}”的{'场所类别' if field == 'category' else '县（市、区）'}。")
        else:
            values[field] = table[text].code
            category, county = (table[text], county) if field == "category" else (category, table[text])
    values.setdefault("category", None)
    values.setdefault("county", None)

    code = _text(raw.get("credit_code"))
    values["credit_code"] = None
    if code:
        try:
            values["credit_code"] = normalise(code)
        except CreditCodeError as exc:
            problem("credit_code", str(exc))

    capacity_text = raw.get("approved_capacity")
    values["approved_capacity"] = None
    if _text(capacity_text):
        number = _whole_number(capacity_text)
        if number is None or not 1 <= number <= MAX_CAPACITY:
            problem("approved_capacity", f"核定人数应为 1 到 {MAX_CAPACITY} 之间的整数。")
        else:
            values["approved_capacity"] = number
    elif category is not None and category.code in reference.capacity_categories:
        problem("approved_capacity", f"{category.name}须登记核定人数（检查时按核定人数的比例判断）。")

    values["rooms"] = []
    rooms_raw = raw.get("rooms")
    if rooms_raw not in (None, "", []):
        try:
            values["rooms"] = parse_rooms(rooms_raw)
        except ValueError as exc:
            problem("rooms", str(exc))
        if values["rooms"] and category is not None and category.code not in reference.settings.room_categories:
            problem("rooms", f"{category.name}不登记包厢座位数。")

    _check_coordinates(raw, reference, values, problem)
    return values, errors


def _check_coordinates(raw: dict, reference: RegisterReference, values: dict, problem) -> None:
    values["longitude"] = values["latitude"] = None
    given = {field: _text(raw.get(field)) for field in ("longitude", "latitude")}
    if not any(given.values()):
        return
    numbers = {}
    for field, text in given.items():
        if not text:
            problem(field, "经度和纬度应同时填写。")
        elif (number := _coordinate(text)) is None:
            problem(field, f"{FIELD_LABELS[field]}应为十进制度数，如 119.6478。")
        else:
            numbers[field] = number
    if len(numbers) < 2:
        return
    bounds = reference.settings.bounds
    longitude, latitude = numbers["longitude"], numbers["latitude"]
    if not bounds.min_longitude <= longitude <= bounds.max_longitude:
        problem("longitude", f"经度 {longitude.normalize()} 不在金华市范围内"
                             f"（东经 {bounds.min_longitude}–{bounds.max_longitude}）。")
    if not bounds.min_latitude <= latitude <= bounds.max_latitude:
        problem("latitude", f"纬度 {latitude.normalize()} 不在金华市范围内"
                            f"（北纬 {bounds.min_latitude}–{bounds.max_latitude}）。")
    values["longitude"], values["latitude"] = str(longitude), str(latitude)


def values_of(venue: Venue) -> dict:
    """The registered values of a venue, in the form check_values returns."""
    def coordinate(value):
        return None if value is None else str(Decimal(value).quantize(Decimal("0.000001")))

    return {
        "name": venue.name, "category": venue.category.code, "county": venue.county.code, "town": venue.town,
        "address": venue.address, "operator_name": venue.operator_name, "contact_phone": venue.contact_phone,
        "credit_code": venue.credit_code, "approved_capacity": venue.approved_capacity,
        "rooms": [{"name": room.name, "seats": room.seats} for room in venue.rooms],
        "longitude": coordinate(venue.longitude), "latitude": coordinate(venue.latitude),
    }


def apply_values(venue: Venue, values: dict, reference: RegisterReference) -> None:
    """Write checked values onto the venue (rooms replaced in the given order)."""
    for field in ("name", "town", "address", "operator_name", "contact_phone", "credit_code", "approved_capacity"):
        setattr(venue, field, values[field])
    venue.category = reference.categories[values["category"]]
    venue.county = reference.counties[values["county"]]
    venue.longitude = None if values["longitude"] is None else Decimal(values["longitude"])
    venue.latitude = None if values["latitude"] is None else Decimal(values["latitude"])
    current = [{"name": room.name, "seats": room.seats} for room in venue.rooms]
    if current != values["rooms"]:
        venue.rooms.clear()
        # Flushed before the new rooms are added: a kept name would otherwise meet the unique
        # constraint while its old row still waits to be deleted.
        db.session.flush()
        venue.rooms.extend(VenueRoom(name=room["name"], seats=room["seats"], position=n)
                           for n, room in enumerate(values["rooms"]))


def format_rooms(rooms: list[dict]) -> str:
    """Rooms in the spreadsheet's form: 包厢A:12;包厢B:8."""
    return ";".join(f"{room['name']}:{room['seats']}" for room in rooms)
