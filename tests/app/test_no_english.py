"""Chinese everywhere a person reads: every page each role can reach (and the answer to each of
its forms sent empty or wrong), every problem answer of a bad-input sweep over the API, and the
command line's tables, read without a run of English words.

What may stay Latin is small and listed: proper names and formats people meet as such (PDF, SHA-256,
GPS), units, and what a person types (commands in <code>, an API's field names and values). Text
inside <script>, <style>, <code>, <pre>, <kbd> and <samp> is code, not prose, and is skipped, as are
attribute values other than title, alt, placeholder and aria-label.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import deque
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from server.accounts.models.user import User
from server.demo.cases import seed_demo_inspections
from server.demo.registry import DEMO_PASSWORD, seed_demo
from server.demo.week import seed_week_inspections
from server.draws.models.draw import AssignmentMember
from server.extensions import db as _db
from server.extensions import limiter
from server.roles import ROLES

# --- the Latin check ---------------------------------------------------------------------------

# Lower-case; each is a name people meet as it is, a unit, or something they type.
ALLOWED_WORDS = {
    # file formats and standards shown by name
    "pdf", "csv", "xlsx", "json", "png", "jpeg", "jpg", "exif", "gps", "qr", "iso", "utf", "gb/t",
    # protocols, addresses and the product's own commands
    "api", "url", "http", "https", "anfang", "anfang-field", "anfang-checkpoint", "tus", "id",
    # units
    "km", "kb", "mb", "gb", "kib", "mib", "gib",
    # proper names as Chinese writes them: the font the documents name, the venue kind, the program
    "noto", "ktv", "excel",
    # a key as the keyboard labels it
    "delete",
    # JSON literals and the date format a person types
    "true", "false", "null", "yyyy-mm-dd", "yyyy", "mm", "dd",
}
URLS = re.compile(r"https?://\S+|\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A chunk: letters, digits and the joiners of codes and file names.
CHUNK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/+]*")
CODE_LIKE = re.compile(r"_|[A-Za-z]\.[A-Za-z]")  # snake_case or dotted codes: k10_temperature, auth.login


def latin_problems(text: str, extra_allowed: frozenset[str] = frozenset(), *, codes_allowed: bool = False) -> list[str]:
    """The Latin runs in `text` a person should not have to read; [] when it reads as Chinese.

    Flagged: a code (snake_case or dotted), a word of four letters or more, or two words in a row
    (separated by spaces only), none of them allowed. Chunks with digits are numbers, hashes and
    names such as SHA-256 or K10, and pass. With `codes_allowed` (an API's answers, read by the
    programs that send those codes) snake_case codes pass too."""
    allowed = ALLOWED_WORDS | extra_allowed
    problems: list[str] = []
    run: list[str] = []
    last_end = None

    def close_run():
        if len(run) >= 2:
            problems.append(" ".join(run))
        run.clear()

    cleaned = URLS.sub(" ", text)
    for match in CHUNK.finditer(cleaned):
        chunk = match.group().rstrip(".-/+")
        if not chunk:
            continue
        if last_end is not None and cleaned[last_end:match.start()].strip():
            close_run()
        last_end = match.end()
        lowered = chunk.lower()
        if lowered in allowed:
            close_run()
            continue
        if CODE_LIKE.search(chunk):
            if not (codes_allowed and "_" in chunk):
                problems.append(chunk)
            close_run()
            continue
        if any(c.isdigit() for c in chunk):
            close_run()
            continue
        letters = sum(c.isalpha() for c in chunk)
        if letters >= 4:
            problems.append(chunk)
        run.append(chunk)
    close_run()
    return problems


@pytest.mark.parametrize("text, problems", [
    ("请上传 PDF 文件（不超过 20 MiB），核对 SHA-256。", []),
    ("用 anfang-field 下载任务", []),
    ("运行 anfang-field pull 下载任务", ["pull"]),  # a command belongs in <code>, which is skipped
    ("入口处测温 k10_temperature_at_entrance", ["k10_temperature_at_entrance"]),
    ("操作 auth.login，对象 user:7", ["auth.login", "user"]),
    ("用户名或 system", ["system"]),
    ("Not a valid string.", ["valid", "string", "Not a valid string"]),
    ("长度不能超过 64。须为 true 或 false。K10 第五条", []),
    ("详见 https://example.org/verify/ABC", []),
])
def test_the_latin_check_itself(text, problems):
    assert sorted(latin_problems(text)) == sorted(problems)


# --- reading a page as a person does ----------------------------------------------------------

SKIPPED_ELEMENTS = {"script", "style", "code", "pre", "kbd", "samp", "template"}
READ_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label"}
# Words in different elements (two table cells) are not one run; not whitespace, so runs break on it.
ELEMENT_END = " ¦ "
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class PageReader(HTMLParser):
    """The text a person reads on a page, its links, and its forms with their fields."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.forms: list[dict] = []
        self.form: dict | None = None
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if tag == "form":
            self.form = {"method": (attributes.get("method") or "get").lower(), "action": attributes.get("action"),
                         "novalidate": "novalidate" in attributes, "fields": []}
            self.forms.append(self.form)
        elif tag in ("input", "select", "textarea") and self.form is not None and attributes.get("name"):
            kind = attributes.get("type") or ("text" if tag == "input" else tag)
            self.form["fields"].append((attributes["name"], kind, attributes.get("value") or ""))
        if tag in SKIPPED_ELEMENTS:
            self.skipping += 1
        if self.skipping:
            return
        for name in READ_ATTRIBUTES:
            if attributes.get(name):
                self.parts.append(attributes[name])
        if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.parts.append(attributes["value"])

    def handle_startendtag(self, tag, attrs):
        saved = self.skipping
        self.handle_starttag(tag, attrs)
        self.skipping = saved

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        if tag in SKIPPED_ELEMENTS and self.skipping:
            self.skipping -= 1
        if tag not in VOID_ELEMENTS:
            self.parts.append(ELEMENT_END)

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def read_page(html: str) -> PageReader:
    reader = PageReader()
    reader.feed(html)
    reader.close()
    reader.text = "".join(reader.parts)
    return reader


LONG_TEXT = "长" * 5000
WRONG_VALUES = {"date": "不是日期", "number": "不是数", "email": "不是邮箱", "url": "不是网址",
                "select": "不存在的选项"}

# --- the crawl --------------------------------------------------------------------------------

MAX_PAGES_PER_ROLE = 150
# Same shape of address (ids as N, the query's keys): a few are enough to read that page's words.
MAX_PER_SHAPE = 3
SKIPPED_PREFIXES = ("/static/", "/field/", "/api/", "/logout")
SKIPPED_SUFFIXES = (".pdf", ".csv", ".xlsx", ".json", ".zip", ".jpg", ".jpeg", ".png")


def _shape(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    path = re.sub(r"/[0-9a-f-]{8,}|/\d+", "/N", parts.path)
    return path + "?" + ",".join(sorted(urllib.parse.parse_qs(parts.query)))


def _in_context(text: str, problem: str) -> str:
    at = text.find(problem.split(" ")[0])
    return " ".join(text[max(at - 12, 0):at + len(problem) + 12].split()) if at >= 0 else problem


def crawl(client, start: str = "/", allowed: frozenset[str] = frozenset()) -> tuple[dict[str, list[str]], int, int]:
    """Breadth-first over same-origin GET links from `start`: the Latin problems of each page, the
    number of pages read and the number of form answers read. Then each POST form met on the way
    is sent empty and with wrong values, and the page that explains what is wrong is read the same
    way."""
    found: dict[str, list[str]] = {}
    forms: dict[str, list[tuple[str, str, str]]] = {}
    answered = 0
    queue = deque([start])
    seen = {start}
    shapes: dict[str, int] = {}
    pages = 0
    while queue and pages < MAX_PAGES_PER_ROLE:
        url = queue.popleft()
        response = client.get(url)
        if response.status_code in (301, 302, 303):
            location = urllib.parse.urlsplit(response.headers["Location"])
            target = location.path + (f"?{location.query}" if location.query else "")
            if target not in seen and not target.startswith(SKIPPED_PREFIXES):
                seen.add(target)
                queue.append(target)
            continue
        if response.mimetype != "text/html":
            continue
        pages += 1
        page = read_page(response.get_data(as_text=True))
        problems = latin_problems(page.text, allowed)
        # The browser's own (English) validation bubbles never show: the server answers in Chinese.
        problems += [f"<form action={form['action']}> without novalidate" for form in page.forms
                     if not form["novalidate"]]
        if problems:
            found[url] = sorted({_in_context(page.text, problem) for problem in problems})
        for form in page.forms:
            action = urllib.parse.urljoin(url, form["action"] or url).split("#")[0]
            if form["method"] == "post" and action not in forms and not action.startswith(SKIPPED_PREFIXES):
                forms[action] = form["fields"]
        for href in page.links:
            absolute = urllib.parse.urljoin(url, href)
            parts = urllib.parse.urlsplit(absolute)
            if parts.scheme or parts.netloc:
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if (target in seen or target.startswith(SKIPPED_PREFIXES) or parts.path.endswith(SKIPPED_SUFFIXES)
                    or "download" in parts.path):
                continue
            seen.add(target)
            shape = _shape(target)
            if shapes.get(shape, 0) >= MAX_PER_SHAPE:
                continue
            shapes[shape] = shapes.get(shape, 0) + 1
            queue.append(target)
    for action, fields in forms.items():
        if not any(kind not in ("hidden", "submit", "button") for _, kind, _ in fields):
            continue  # a confirmation button: nothing to get wrong
        hidden = {name: value for name, kind, value in fields if kind == "hidden"}
        wrong = {name: WRONG_VALUES.get(kind, LONG_TEXT) for name, kind, _ in fields
                 if kind not in ("hidden", "submit", "button", "checkbox", "radio", "file")}
        for data in (hidden, hidden | wrong):
            # Followed: a redirect's flashed message is read on the page it leads to.
            response = client.post(action, data=data, follow_redirects=True)
            if response.mimetype != "text/html":
                continue
            answered += 1
            text = read_page(response.get_data(as_text=True)).text
            problems = latin_problems(text, allowed)
            if problems:
                found[f"POST {action}"] = sorted({_in_context(text, problem) for problem in problems})
    return found, pages, answered


def _login(client, username: str) -> None:
    client._cookies.clear()
    limiter.reset()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, (username, response.get_data(as_text=True)[:500])


@pytest.fixture
def demo(db):
    """The demo as `anfang demo seed` makes it, with two days of inspections (enough for every page)."""
    seed_demo()
    seed_demo_inspections()
    seed_week_inspections(2)
    _db.session.commit()
    inspector = _db.session.scalar(sa.select(User).join(AssignmentMember, AssignmentMember.user_id == User.id)
                                   .where(User.role == "inspector").order_by(User.id).limit(1))
    users = {role: _db.session.scalar(sa.select(User).where(User.role == role).order_by(User.id).limit(1))
             for role in ROLES}
    users["inspector"] = inspector or users["inspector"]
    return users


def test_every_page_each_role_reaches_reads_in_chinese(app, demo):
    client = app.test_client()
    # Usernames are what people type to log in (the demo's are English words: office, county).
    usernames = frozenset(name.lower() for name in _db.session.scalars(sa.select(User.username)))
    found, read, answered = {}, {}, {}
    found["（未登录）"], read["（未登录）"], answered["（未登录）"] = crawl(client, "/login")
    for role, user in demo.items():
        _login(client, user.username)
        found[role], read[role], answered[role] = crawl(client, allowed=usernames)
    print("pages read:", read, "form answers read:", answered)
    assert all(count >= 5 for role, count in read.items() if role in ROLES), read
    assert sum(answered.values()) >= 20, answered
    english = {role: pages for role, pages in found.items() if pages}
    assert not english, json.dumps(english, ensure_ascii=False, indent=1)


# --- the API's problem answers to bad input ---------------------------------------------------

def _spec_names(spec: dict) -> frozenset[str]:
    """Every field name, parameter name and enum value of the API: what its users type."""
    names: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    names.update(name.lower() for name in value)
                if key == "enum" and isinstance(value, list):
                    names.update(str(item).lower() for item in value)
                if key == "name" and isinstance(value, str):
                    names.add(value.lower())
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(spec)
    return frozenset(names)


def _resolve(spec: dict, schema: dict | None) -> dict:
    seen = 0
    while schema and "$ref" in schema and seen < 10:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"].get(name, {})
        seen += 1
    return schema or {}


def _wrong(prop: dict) -> object:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return {"string": 12345, "integer": "不是数", "number": "不是数", "boolean": "也许", "array": "不是列表",
            "object": "不是对象"}.get(kind, ["不是", "值"])


def _bodies(spec: dict, schema: dict) -> list:
    """Bad bodies for one operation: wrong shape, nothing, wrong types, too long, unknown field."""
    schema = _resolve(spec, schema)
    properties = {name: _resolve(spec, prop) for name, prop in (schema.get("properties") or {}).items()}
    bodies = [[], {}, {"zz_unknown": 1}, "文字"]
    if properties:
        bodies.append({name: _wrong(prop) for name, prop in properties.items()})
        bodies.append({name: (LONG_TEXT if prop.get("type") in ("string", ["string", "null"]) else -10**12)
                       for name, prop in properties.items()})
        for name, prop in properties.items():
            if prop.get("type") == "array":
                item = _resolve(spec, prop.get("items"))
                item_props = item.get("properties") or {}
                bodies.append({name: [{key: _wrong(_resolve(spec, p)) for key, p in item_props.items()} or 1]})
            if prop.get("type") == "object" and prop.get("properties"):
                bodies.append({name: {key: _wrong(_resolve(spec, p)) for key, p in prop["properties"].items()}})
    return bodies


def _path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", template)


def _problem_texts(body) -> list[str]:
    texts = [body.get("title") or "", body.get("detail") or ""]

    def walk(node):
        if isinstance(node, str):
            texts.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(body.get("errors"))
    return texts


def test_every_problem_answer_to_bad_input_reads_in_chinese(app, db, make_user):
    from material_world import bearer

    client = app.test_client()
    spec = client.get("/api/openapi.json").json
    typed = _spec_names(spec)
    headers = {}
    for role in ROLES:
        user = make_user(role)
        headers[role] = bearer(user)
    db.session.commit()

    english: dict[str, list[str]] = {}
    seen_texts: set[str] = set()
    answers = 0

    def check(method: str, url: str, **kwargs):
        nonlocal answers
        for role, auth in headers.items():
            response = client.open(url, method=method, headers=auth, **kwargs)
            if response.mimetype != "application/problem+json":
                continue
            answers += 1
            for text in _problem_texts(response.json):
                seen_texts.add(text)
                problems = latin_problems(text, typed, codes_allowed=True)
                if problems:
                    english.setdefault(f"{method} {url} ({role})", []).append(f"{text} → {problems}")
            if response.status_code not in (401, 403):
                break  # one role that reaches validation is enough

    for template, operations in spec["paths"].items():
        url = _path(template)
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            parameters = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
            if parameters:
                wrong = {p["name"]: ("x" * 300 if _resolve(spec, p.get("schema")).get("type") == "string" else "不是数")
                         for p in parameters}
                check(method.upper(), url + "?" + urllib.parse.urlencode(wrong))
            content = (operation.get("requestBody") or {}).get("content") or {}
            if "application/json" in content:
                check(method.upper(), url, data="{不是 JSON", content_type="application/json")
                for body in _bodies(spec, content["application/json"].get("schema")):
                    check(method.upper(), url, json=body)
            elif content:
                check(method.upper(), url, data=b"\x00\x01", content_type=next(iter(content)))
    print(answers, "problem answers;", len(seen_texts), "distinct texts:", *sorted(seen_texts), sep="\n")
    assert answers > 100
    # The sweep reached the validators: their messages came back, in Chinese.
    assert {"缺少必填字段。", "未知字段。", "须为 JSON 对象。", "请求体不是有效的 JSON。"} <= seen_texts
    assert not english, json.dumps(english, ensure_ascii=False, indent=1)


# --- the command line's tables and status lines -----------------------------------------------

READING_COMMANDS = (
    ["user", "list"], ["token", "list"], ["audit", "verify"], ["audit", "tail", "-n", "40"],
    ["audit", "checkpoint", "list"], ["assignment", "list"], ["assignment", "show", "1"], ["draw", "show", "1"],
    ["draw", "verify", "1"], ["rectification", "overdue"], ["rectification", "reports"],
)


def test_the_command_lines_tables_read_in_chinese(app, demo):
    runner = app.test_cli_runner()
    usernames = frozenset(name.lower() for name in _db.session.scalars(sa.select(User.username)))
    english = {}
    for args in READING_COMMANDS:
        result = runner.invoke(args=args, env={"COLUMNS": "200"})
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, output)
        assert output.strip(), args
        problems = latin_problems(output, usernames)
        if problems:
            english[" ".join(args)] = sorted({_in_context(output, problem) for problem in problems})
    assert not english, json.dumps(english, ensure_ascii=False, indent=1)
