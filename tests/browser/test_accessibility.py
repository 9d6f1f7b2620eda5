"""Accessibility of every page each role reaches from its navigation: controls labelled, buttons
and links named, text contrast ≥ 4.5:1 (the audit runs with each screenshot), every control
reachable with the Tab key, and a login done with the keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

# Pages per role beyond its navigation (every navigation link is visited as well, so a page that
# adds itself with add_nav_item is audited without a change here): forms and detail pages.
PAGES = {
    "office": ["/", "/draws/new", "/draws/1", "/draws/1/verification", "/assignments/1", "/inspections/1",
               "/violations", "/materials", "/materials/1", "/accountability/cases"],
    "enforcement": ["/", "/cases/new", "/violations", "/inspections/1"],
    "propaganda": ["/", "/materials", "/materials/1"],  # the list gathers the notes into items first
    "department": ["/", "/inspections"],
    "county": ["/", "/inspections"],
    "auditor": ["/", "/draws/1", "/audit/1", "/audit/verification"],
    "admin": ["/", "/admin/users/new", "/admin/users/1"],
}
# The Tab walk is slow (one key press at a time): each page is walked once, for the first role
# (in this order) that reaches it; the session-wide record lives in this dict.
WALKED: dict[str, str] = {}
# Kinds of text whose contrast the audit must have measured over a role's pages.
MEASURED = {"text", "link", "button", "nav", "badge", "flash"}

FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])"

MARK_FOCUSABLE = """
(selector) => {
  const visible = (el) => { const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 1 && r.height > 1 && r.right > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const targets = [...document.querySelectorAll(selector)].filter(el => !el.disabled && visible(el));
  targets.forEach((el, i) => { el.dataset.tabTarget = String(i); });
  window.__focused = new Set();
  document.addEventListener('focusin', (event) => {
    if (event.target.dataset && event.target.dataset.tabTarget) window.__focused.add(event.target.dataset.tabTarget);
  });
  document.activeElement && document.activeElement.blur();
  return targets.length;
}
"""
UNREACHED = """
() => [...document.querySelectorAll('[data-tab-target]')]
  .filter(el => !window.__focused.has(el.dataset.tabTarget))
  .map(el => `<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}> ${(el.innerText || el.name || '').trim().slice(0, 30)}`)
"""


def assert_tab_reaches_every_control(page) -> None:
    count = page.evaluate(MARK_FOCUSABLE, FOCUSABLE)
    # Date and time inputs stop once per part (year, month, day…), so a control may take several presses.
    for presses in range(1, 6 * count + 10):
        page.keyboard.press("Tab")
        if presses % 10 == 0 and page.evaluate("(count) => window.__focused.size >= count", count):
            break
    unreached = page.evaluate(UNREACHED)
    assert not unreached, f"{page.url}: not reachable with Tab: {unreached}"


def navigation_paths(page) -> list[str]:
    links = page.get_by_role("navigation", name="主导航").get_by_role("link")
    return [href for href in links.evaluate_all("links => links.map(a => a.getAttribute('href'))")]


@pytest.mark.parametrize("role", list(PAGES))
def test_pages_of_each_role(story, role):
    page = story.login(role)
    paths = list(dict.fromkeys(PAGES[role] + navigation_paths(page)))
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        story.snap(page, path.strip("/").replace("/", "-") or "home")
        if WALKED.setdefault(path, role) == role:
            assert_tab_reaches_every_control(page)
    assert MEASURED <= set(story.checked), f"contrast not measured for {MEASURED - set(story.checked)}"
    assert story.checked["control"] and story.checked["named"]


def test_login_with_the_keyboard_alone(story):
    page = story.open_page()
    page.goto("/login")
    story.snap(page, "login")
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "username":
            break
    expect(page.get_by_label("用户名")).to_be_focused()
    page.keyboard.type("office")
    page.keyboard.press("Tab")
    expect(page.get_by_label("密码")).to_be_focused()
    page.keyboard.type(story.site.password)
    story.snap(page, "login-typed")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    story.snap(page, "logged-in")
    # The skip link is the first stop and takes the keyboard past the navigation.
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到正文")).to_be_focused()


def test_wrong_password_error_is_readable_and_announced(story):
    page = story.open_page()
    page.goto("/login")
    page.get_by_label("用户名").fill("office")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    password = page.get_by_label("密码")
    expect(password).to_have_attribute("aria-invalid", "true")
    error = page.locator("#" + password.get_attribute("aria-describedby"))
    expect(error).not_to_be_empty()
    story.snap(page, "login-error")


# A tablet held upright (iPad): pages must fit its width; wide tables scroll inside their own box.
TABLET = {"width": 768, "height": 1024}
OVERFLOW = """
() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.body.querySelectorAll('*')].filter(el => {
    const r = el.getBoundingClientRect();
    if (r.right <= width + 1) return false;
    // Inside a box that scrolls sideways on its own: the page itself does not.
    for (let p = el.parentElement; p; p = p.parentElement) {
      if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return false;
    }
    return true;
  });
  return {scroll: document.documentElement.scrollWidth, width,
          wide: wide.slice(0, 5).map(el => `<${el.tagName.toLowerCase()} class="${el.className}">`)};
}
"""


@pytest.mark.parametrize("role", list(PAGES))
def test_pages_fit_a_tablet(story, role):
    page = story.login(role)
    page.set_viewport_size(TABLET)
    paths = list(dict.fromkeys(PAGES[role] + navigation_paths(page)))
    for path in paths:
        assert page.goto(path).status == 200, path
        fit = page.evaluate(OVERFLOW)
        assert fit["scroll"] <= fit["width"] and not fit["wide"], f"{path} is wider than a tablet: {fit}"
    story.snap(page, "tablet-last-page")
