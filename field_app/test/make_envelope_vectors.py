"""Writes field_app/test/envelope_vectors.json: envelopes sealed by Python `sealing.envelope`.

The phone app's opener (field_app/src/envelope.js) is tested against these (envelope.test.js),
and tests/field_app/test_envelope_vectors.py opens every case again with Python, so the
committed file stays valid for both. Regenerate after a change of the envelope format:

    .venv/bin/python field_app/test/make_envelope_vectors.py

Each case: {name, envelope (text), assignment, method: "code" | "key", secret (the code as typed,
or the key as base64url), expect: {target} or {error: {reason, message}}}. The random bytes
(keys, salts, nonces) come from a fixed seed, so regenerating gives the same file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from unittest import mock

from sealing import EnvelopeError, key_from_text, key_to_text, open_with_code, open_with_key, seal

OUT = Path(__file__).resolve().parent / "envelope_vectors.json"

ASSIGNMENT_A = "5f0c6a0e-3b7d-4c36-9a57-2f1d8e4b6c01"
ASSIGNMENT_B = "b2a4d9e1-7c3f-4e28-8d15-6a9f0c3e7b42"
CODE_A = "1K0Q2-MXW9P"  # has a 1 and a 0, to be typed as I/L and O
CODE_B = "7KQ2M-XW9PA"

TARGET_A = {
    "venue_id": 4711,
    "name": "金华市婺城区星光KTV（人民路店）",
    "category": "ktv",
    "county": "婺城区",
    "town": "城东街道",
    "address": "人民路 88 号 3 楼「星光」😀",
    "latitude": 29.0867611,
    "longitude": 119.6460194,
    "approved_capacity": 120,
    "operator_name": "张三",
    "contact_phone": "0579-8231 0000",
}
TARGET_B = {
    "venue_id": 12,
    "name": "金东区博物馆",
    "category": "museum",
    "county": "金东区",
    "town": None,
    "address": "多湖街道 \"东\" 路\n1 号\\后门",
    "latitude": None,
    "longitude": None,
    "approved_capacity": 13,
    "notes": ["周一闭馆", 0.5, True, {"嵌套": []}],
}


class _Bytes:
    """Deterministic stand-in for os.urandom (SHA-256 in counter mode over a fixed seed)."""

    def __init__(self, seed: bytes):
        self.seed, self.counter = seed, 0

    def __call__(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            out += hashlib.sha256(self.seed + self.counter.to_bytes(8, "big")).digest()
            self.counter += 1
        return out[:size]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _altered(envelope: str, part: str, field: str, index: int = 5) -> str:
    """The envelope with one base64url symbol of `part.field` changed (a flipped bit inside)."""
    document = json.loads(envelope)
    holder = document[part]["kdf"] if field == "salt" else document[part]
    value = holder[field]
    symbol = "A" if value[index] != "A" else "B"
    holder[field] = value[:index] + symbol + value[index + 1:]
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _with_kdf(envelope: str, **changes) -> str:
    document = json.loads(envelope)
    document["key"]["kdf"].update(changes)
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def _with(envelope: str, **changes) -> str:
    document = json.loads(envelope)
    for name, value in changes.items():
        if value is _DROP:
            document.pop(name)
        else:
            document[name] = value
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


_DROP = object()


def _open(case: dict) -> dict:
    """What Python answers for the case, as the field CLI calls it."""
    try:
        if case["method"] == "code":
            target = open_with_code(case["envelope"], case["secret"], case["assignment"])
        else:
            target = open_with_key(case["envelope"], key_from_text(case["secret"]), case["assignment"])
    except EnvelopeError as error:
        return {"error": {"reason": error.reason, "message": str(error)}}
    return {"target": target}


def build() -> dict:
    random = _Bytes(b"anfang envelope vectors")
    with mock.patch("sealing.envelope.os.urandom", random):
        key_a, key_b, other_key = random(32), random(32), random(32)
        envelope_a = seal(TARGET_A, key_a, CODE_A, ASSIGNMENT_A).decode("ascii")
        # Cheaper parameters, read from the envelope by the opener.
        envelope_b = seal(TARGET_B, key_b, CODE_B, ASSIGNMENT_B, scrypt_n=2**10, scrypt_r=4, scrypt_p=2).decode("ascii")

    def case(name, envelope, method, secret, assignment=ASSIGNMENT_A):
        entry = {"name": name, "envelope": envelope, "assignment": assignment, "method": method, "secret": secret}
        return {**entry, "expect": _open(entry)}

    a, b = envelope_a, envelope_b
    cases = [
        case("揭封码原样", a, "code", CODE_A),
        case("揭封码小写", a, "code", CODE_A.lower()),
        case("揭封码无横线", a, "code", CODE_A.replace("-", "")),
        case("揭封码 O 读作 0、I 与 L 读作 1", a, "code", "IKOQ2-MXW9P"),
        case("揭封码小写 l 与 o、空格分组", a, "code", " lkoq2 mxw9p "),
        case("揭封码多余横线与下划线", a, "code", "1-k-0-q-2_mxw9p\t"),
        case("揭封码全角空格", a, "code", "\u30001K0Q2MXW9P\u3000"),
        case("揭封码错误", a, "code", CODE_B),
        case("揭封码位数不足", a, "code", "1K0Q2-MXW9"),
        case("揭封码位数过多", a, "code", "1K0Q2-MXW9PA"),
        case("揭封码含 U", a, "code", "1K0Q2-MXW9U"),
        case("揭封码含汉字", a, "code", "1K0Q2-MXW9零"),
        case("揭封码为空", a, "code", ""),
        case("揭封码不是文字", a, "code", None),
        case("揭封码格式错误先于信封错误", "不是信封", "code", "123"),
        case("他项任务的信封（揭封码）", a, "code", CODE_A, ASSIGNMENT_B),
        case("他项任务的信封（密钥）", a, "key", _b64(key_a), ASSIGNMENT_B),
        case("缺少任务编号", a, "code", CODE_A, ""),
        case("密钥打开", a, "key", key_to_text(key_a)),
        case("密钥错误", a, "key", _b64(other_key)),
        case("密钥长度不对", a, "key", _b64(key_a[:16])),
        case("密钥不是 base64url", a, "key", "不是密钥"),
        case("密钥格式错误先于信封错误", "不是信封", "key", "abc"),
        case("内容密文被改动（密钥）", _altered(a, "target", "ciphertext"), "key", _b64(key_a)),
        case("内容密文被改动（揭封码）", _altered(a, "target", "ciphertext"), "code", CODE_A),
        case("内容随机数被改动", _altered(a, "target", "nonce", 2), "key", _b64(key_a)),
        case("封装密钥被改动", _altered(a, "key", "ciphertext"), "code", CODE_A),
        case("盐被改动", _altered(a, "key", "salt", 3), "code", CODE_A),
        case("他人的信封换上本任务编号", _with(a, assignment=ASSIGNMENT_B), "code", CODE_A, ASSIGNMENT_B),
        case("n 超出上限（不做计算）", _with_kdf(a, n=2**19), "code", CODE_A),
        case("n 低于下限", _with_kdf(a, n=2**9), "code", CODE_A),
        case("n 不是 2 的幂", _with_kdf(a, n=3 * 2**12), "code", CODE_A),
        case("内存超出上限（n=2^17, r=8）", _with_kdf(a, n=2**17), "code", CODE_A),
        case("r 超出上限", _with_kdf(a, r=17), "code", CODE_A),
        case("p 超出上限", _with_kdf(a, p=5), "code", CODE_A),
        case("n 为文字", _with_kdf(a, n="32768"), "code", CODE_A),
        case("n 为布尔", _with_kdf(a, p=True), "code", CODE_A),
        case("缺少 r", _with_kdf(a, r=None), "code", CODE_A),
        case("派生算法不是 scrypt", _with_kdf(a, name="argon2id"), "code", CODE_A),
        case("盐长度不对", _with_kdf(a, salt=_b64(b"short")), "code", CODE_A),
        case("盐不是 base64url", _with_kdf(a, salt="!!!!"), "code", CODE_A),
        case("不是 JSON", "这不是信封", "code", CODE_A),
        case("JSON 但不是对象", "[1,2,3]", "key", _b64(key_a)),
        case("format 字段不对", _with(a, format="other"), "code", CODE_A),
        case("版本 2", _with(a, version=2), "code", CODE_A),
        case("版本为文字", _with(a, version="1"), "key", _b64(key_a)),
        case("缺少版本", _with(a, version=_DROP), "key", _b64(key_a)),
        case("缺少 target", _with(a, target=_DROP), "key", _b64(key_a)),
        case("target 算法不对", _with(a, target={**json.loads(a)["target"], "alg": "A128GCM"}), "key", _b64(key_a)),
        case("kdf 不是对象", _with(a, key={**json.loads(a)["key"], "kdf": "scrypt"}), "code", CODE_A),
        case("缺少内容随机数", _with(a, target={k: v for k, v in json.loads(a)["target"].items() if k != "nonce"}),
             "key", _b64(key_a)),
        case("另一信封：参数 n=2^10 r=4 p=2（揭封码）", b, "code", CODE_B.lower().replace("-", " "), ASSIGNMENT_B),
        case("另一信封：密钥打开", b, "key", _b64(key_b), ASSIGNMENT_B),
        case("另一信封：用第一个信封的揭封码", b, "code", CODE_A, ASSIGNMENT_B),
    ]
    return {
        "generated_by": "sealing.envelope.seal (Python), field_app/test/make_envelope_vectors.py",
        "cases": cases,
    }


def main() -> int:
    vectors = build()
    OUT.write_text(json.dumps(vectors, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"{len(vectors['cases'])} 个信封用例已写入 {OUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
