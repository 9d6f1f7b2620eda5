"""Steps the phone app's stories share (/field/ on a phone profile): the phone's screenshots with
their layout check, logging in, pulling, typing the reveal code, signing on a canvas, camera-like
JPEGs with GPS, and what the office reads on the server (its API token, the team, the venue)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import time
import urllib.request
from pathlib import Path

from PIL import Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational
from playwright.sync_api import expect


DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts" / "browser"
MAX_DOC_SCREENSHOT_BYTES = 150_000
# Touch targets: 44 px at least (Apple HIG / WCAG 2.5.5); the app aims for 48.
MIN_TARGET_PX = 44
PHONE = {"width": 390, "height": 844}
ANDROID = {"width": 412, "height": 915}

LAYOUT_SCRIPT = r"""
(minimum) => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > window.innerWidth + 1) problems.push(`horizontal overflow: ${root.scrollWidth} > ${window.innerWidth}`);
  const targets = document.querySelectorAll(
    'main button, main a[href], main select, main textarea, main input:not([type=file]):not([type=checkbox]):not([type=radio]),'
    + ' main label.btn, header button, header a[href], .choices label, label.check');
  for (const el of targets) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const rect = el.getBoundingClientRect();
    if (!rect.width || !rect.height) continue;
    if (rect.right > window.innerWidth + 1) problems.push(`beyond the right edge: ${el.outerHTML.slice(0, 80)}`);
    if (rect.height < minimum || rect.width < minimum) {
      problems.push(`small target ${Math.round(rect.width)}×${Math.round(rect.height)}: ${el.outerHTML.slice(0, 80)}`);
    }
  }
  return problems;
}
"""


# --- helpers -------------------------------------------------------------------------------------


def snap(story, page, step: str, *, docs: str | None = None) -> None:
    """The story's screenshot and accessibility audit, the phone layout checked, and for the
    README a viewport-sized picture (CSS pixels) under docs/screenshots/phone-<docs>.png."""
    story.snap(page, step)
    problems = page.evaluate(LAYOUT_SCRIPT, MIN_TARGET_PX)
    assert not problems, f"{page.url}:\n" + "\n".join(problems)
    if docs:
        page.evaluate("document.getElementById('toast')?.setAttribute('hidden', '')")  # a passing notice
        doc_screenshot(page, f"phone-{docs}")


def doc_screenshot(target, name: str) -> Path:
    """The README's picture <name>.png of a page's viewport or of one element (a locator), in CSS
    pixels, in 256 colours, kept under MAX_DOC_SCREENSHOT_BYTES. Every run takes it (under
    test-artefacts/browser/docs/); it replaces docs/screenshots/<name>.png when that is missing or
    ANFANG_DOC_SCREENSHOTS=1, so a test run leaves the checkout as it was."""
    taken = ARTEFACTS / "docs" / f"{name}.png"
    taken.parent.mkdir(parents=True, exist_ok=True)
    target.screenshot(path=str(taken), scale="css")
    with Image.open(taken) as shot:  # 256 colours: plenty for a screen, a third of the bytes
        shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(taken, optimize=True)
    assert taken.stat().st_size <= MAX_DOC_SCREENSHOT_BYTES, f"{taken.name}: {taken.stat().st_size} bytes"
    published = DOCS_SCREENSHOTS / taken.name
    if os.environ.get("ANFANG_DOC_SCREENSHOTS") == "1" or not published.exists():
        published.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(taken, published)
    return taken


def office_token(site) -> str:
    body = json.dumps({"username": "office", "password": site.password, "label": "phone story"}).encode()
    request = urllib.request.Request(site.url + "/api/v1/auth/tokens", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["token"]


def api(site, token: str, method: str, path: str, *, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(site.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        payload = response.read()
        return json.loads(payload) if response.headers.get_content_type().endswith("json") else payload


def team_of(site, assignment_id: int) -> list[tuple[str, str]]:
    """(username, display name) of the team, leader first."""
    return [tuple(row) for row in site.query(
        "SELECT u.username, u.display_name FROM assignment_member m JOIN user_account u ON u.id = m.user_id"
        " WHERE m.assignment_id = :id ORDER BY m.is_leader DESC, m.position", id=assignment_id)]


def venue_of(site, assignment_id: int):
    ((name, latitude, longitude, capacity),) = site.query(
        "SELECT v.name, v.latitude, v.longitude, v.approved_capacity FROM assignment a JOIN venue v ON v.id = a.venue_id"
        " WHERE a.id = :id", id=assignment_id)
    return name, float(latitude), float(longitude), capacity


def _dms(value: float):
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10000)
    return IFDRational(degrees, 1), IFDRational(minutes, 1), IFDRational(seconds, 10000)


def jpeg_with_gps(path: Path, latitude: float, longitude: float, *, seed: int, taken: str,
                  size=(1200, 900)) -> str:
    """A camera-like JPEG: a scene (wall, floor, a crowd of figures) with sensor grain, about half
    a megabyte (an upload takes several tus chunks), with EXIF time and a GPS position. Returns
    its SHA-256."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, (214, 204, 188))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height * 2 // 3, width, height), fill=(120, 98, 80))
    for _ in range(60):  # visitors
        x, y = rng.randrange(width), rng.randrange(height // 3, height)
        colour = tuple(rng.randrange(30, 220) for _ in range(3))
        draw.ellipse((x - 14, y - 70, x + 14, y - 42), fill=(230, 190, 160))
        draw.rectangle((x - 22, y - 42, x + 22, y + 40), fill=colour)
    grain = Image.frombytes("L", size, rng.randbytes(width * height)).convert("RGB")
    image = Image.blend(image, grain, 0.18)
    exif = Image.Exif()
    exif[0x010F] = "Anfang"  # Make
    exif[0x0132] = taken  # DateTime
    exif.get_ifd(0x8769)[0x9003] = taken  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = ("N" if latitude >= 0 else "S"), _dms(abs(latitude))
    gps[3], gps[4] = ("E" if longitude >= 0 else "W"), _dms(abs(longitude))
    image.save(path, "JPEG", quality=92, exif=exif)
    with Image.open(path) as check:  # the GPS IFD really is in the file
        assert check.getexif().get_ifd(0x8825)[2]
    assert path.stat().st_size > 256 * 1024, "more than one tus chunk (256 KiB)"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def draw_with_mouse(page, canvas) -> None:
    box = canvas.bounding_box()
    x, y = box["x"] + 30, box["y"] + box["height"] * 0.6
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 25):
        page.mouse.move(x + step * 10, y - 40 * (step % 2) + step, steps=2)
    page.mouse.up()


def draw_with_touch(page, canvas) -> None:
    """A finger's stroke: CDP touch events (touchStart, touchMove…, touchEnd) on the canvas."""
    box = canvas.bounding_box()
    cdp = page.context.new_cdp_session(page)
    x, y = box["x"] + 40, box["y"] + 60
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 30):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                              "touchPoints": [{"x": x + step * 8, "y": y + 30 * ((step // 3) % 2) + step * 2}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    # The session stays attached: detaching it would reset the page's emulated network (offline).


def login_on_phone(story, phone, username: str, *, docs: bool = False) -> None:
    phone.goto("/field/")
    expect(phone.get_by_role("heading", name="登录")).to_be_visible()
    phone.get_by_label("用户名").fill(username)
    phone.get_by_label("密码").fill(story.site.password)
    snap(story, phone, "phone-login", docs="login" if docs else None)
    phone.get_by_role("button", name="登录").click()
    expect(phone.get_by_role("heading", name="任务列表")).to_be_visible()


def pull_tasks(phone, assignment_id: int):
    phone.get_by_role("button", name="拉取任务").click()
    card = phone.get_by_role("link", name=re.compile(fr"密封任务 {assignment_id}\b"))
    expect(card).to_be_visible()
    return card


def type_code(phone, code: str) -> None:
    """The first half typed on a keyboard (lower case, no dash), the rest on the keypad."""
    symbols = code.replace("-", "")
    field = phone.get_by_label("揭封码", exact=True)
    field.click()
    field.press_sequentially(symbols[:5].lower())
    for symbol in symbols[5:]:
        phone.get_by_role("button", name=f"输入 {symbol}", exact=True).click()
    expect(field).to_have_value(f"{symbols[:5]}-{symbols[5:]}")


def wait_for_complete(site, assignment_id: int, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while True:
        rows = site.query("SELECT uuid, status FROM inspection WHERE assignment_id = :id AND is_primary", id=assignment_id)
        if rows and rows[0][1] == "complete":
            return rows[0]
        assert time.monotonic() < deadline, f"inspection not complete on the server: {rows}"
        time.sleep(0.5)
