"""Writes field_app/test/digest_vectors.json: payloads with their canonical JSON and SHA-256 as
the field CLI computes them (`field_client.store.canonical_json`), for field_app/test/digest.test.js.

    .venv/bin/python field_app/test/make_digest_vectors.py

Every payload is one the app can produce: JS numbers cannot carry an integral float below 1e21
(30.0 travels as 30 and the server parses an int) nor an int beyond 2**53, so none is used here
(`_check_js_safe` refuses them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path

from field_client.store import canonical_json

OUT = Path(__file__).resolve().parent / "digest_vectors.json"

PAYLOADS = [
    {},
    [],
    {"b": 1, "a": 2, "c": {"z": None, "y": [True, False, None]}},
    {"assignment_uuid": "0f8fad5b-d9cb-469f-a165-70867728950e", "how": "code",
     "revealed_at": "2026-12-03T01:02:03+00:00"},
    {"description": "包厢聚餐人数超过核定人数的50%", "note": "现场有 7 人，核定 12 人", "rule_code": "K3"},
    # Python sorts keys by code point: the astral 😀 comes after U+FF01, unlike UTF-16 order.
    {"a": 1, "B": 2, "é": 3, "中": 4, "\uff01": 5, "😀": 6, "\ue000": 7, "": 8, "aa": 9, "a\u0000": 10},
    {"text": "引号 \" 反斜杠 \\ 斜杠 / 换行\n回车\r制表\t退格\b换页\f", "control": "\x00\x01\x1f\x7f",
     "separators": "\u2028\u2029", "emoji": "👩‍🔧🇨🇳", "bom": "\ufeff"},
    {"latitude": 29.0867611, "longitude": 119.6460194, "accuracy": 12.5, "negative": -0.5},
    {"small": 1e-07, "tiny": 5e-324, "big": 1.7976931348623157e308, "exact": 0.1, "sum": 0.30000000000000004,
     "large_float": 1e22, "ratio": 123456.789, "point_four": 0.0001, "e_minus_5": 0.00001},
    {"ints": [0, -1, 1, 2**53 - 1, -(2**53 - 1), 10**15, 120], "zero": 0},
    {"nested": [[[{"k": [{"deep": "深"}]}]]], "empty": {"list": [], "object": {}}},
    {"observations": {"k3_visitors": 7, "k1_operating": False, "k8_starred_person_handling": "none_observed"},
     "inspection_uuid": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "device_time": "2026-12-03T09:02:03+08:00"},
    "只是一个字符串",
    12345,
    None,
    True,
]

BYTES = [b"", b"abc", "暗访现场".encode("utf-8"), bytes(range(256)) * 4]


def _check_js_safe(value) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        assert abs(value) < 2**53, value
    elif isinstance(value, float):
        assert not (value.is_integer() and abs(value) < 1e21), value
    elif isinstance(value, list):
        for item in value:
            _check_js_safe(item)
    else:
        for item in value.values():
            _check_js_safe(item)


def build() -> dict:
    cases = []
    for payload in PAYLOADS:
        _check_js_safe(payload)
        canonical = canonical_json(payload)
        cases.append({"payload": payload, "canonical": canonical.decode("utf-8"),
                      "sha256": hashlib.sha256(canonical).hexdigest()})
    blobs = [{"base64": base64.b64encode(data).decode("ascii"), "sha256": hashlib.sha256(data).hexdigest()}
             for data in BYTES]
    return {"generated_by": "field_client.store.canonical_json (Python), field_app/test/make_digest_vectors.py",
            "cases": cases, "bytes": blobs}


def main() -> int:
    OUT.write_text(json.dumps(build(), ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"已写入 {OUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
