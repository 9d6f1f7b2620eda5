"""Every role's pages on a phone (390 × 844): the menu folds behind 菜单 and opens on a tap, no page
is wider than the screen, every target a finger taps is at least 44 × 44 px and no text is under
16 px. Each role's navigation pages are visited, and from each list the first row's detail page.
Every page is photographed (full page) into the story's artefacts folder."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

PHONE = {"width": 390, "height": 844}
# Department and county leaders read these pages on phones; the inspector's web home too.
USERS = {
    "office": "office",
    "inspector": "inspector01",
    "enforcement": "enforcement",
    "propaganda": "propaganda",
    "department": "department",
    "county": "county",
    "auditor": "auditor",
    "admin": "admin",
}
# Forms a role opens from a button rather than from its menu.
FORMS = {
    "office": ["/draws/new", "/violations", "/accountability/cases"],
    "enforcement": ["/cases/new", "/violations"],
    "auditor": ["/audit/verification", "/audit/checkpoints"],
    "admin": ["/admin/users/new"],
}
MIN_TARGET_PX = 44
MIN_TEXT_PX = 16
# Folded, the header is one row: the title and the 菜单 button (it was 221 px with the menu open).
MAX_FOLDED_HEADER_PX = 90
# Detail pages are visited read-only: nothing that leaves a trace (reading a sealed target), files
# (PDFs, photos, exports) or pages of another kind.
NOT_A_DETAIL_PAGE = re.compile(r"/target\b|\.pdf\b|/preview\b|/evidence/|/photos/|/signatures/|/export|\.json\b"
                               r"|/template\.|^https?://|^#|^mailto:")

# Runs in the page: what overflows and which targets or texts are too small, each named.
PHONE_CHECK = r"""
({minimumTarget, minimumText}) => {
  const problems = [];
  // A phone browser zooms out over a page that overflows, and innerWidth grows with it: the screen's
  // width is the layout viewport's.
  const width = Math.min(window.innerWidth, document.documentElement.clientWidth);
  const describe = (el) => {
    const id = el.id ? '#' + el.id : '';
    const classes = typeof el.className === 'string' ? el.className.trim() : '';
    const cls = classes ? '.' + classes.split(/\s+/).join('.') : '';
    const href = el.getAttribute('href') ? ` href="${el.getAttribute('href')}"` : '';
    const name = el.getAttribute('name') ? ` name="${el.getAttribute('name')}"` : '';
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '')
      .replace(/\s+/g, ' ').trim().slice(0, 30);
    return `<${el.tagName.toLowerCase()}${id}${cls}${href}${name}> «${text}»`;
  };
  const shown = (el) => {
    for (let node = el; node && node !== document.documentElement; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.display === 'none' || style.visibility === 'hidden') return false;
      if (node.matches('.visually-hidden, .skip-link')) return false;
      if (node.tagName === 'DETAILS' && !node.open && el.closest('summary')?.parentElement !== node) return false;
    }
    const rect = el.getBoundingClientRect();
    return rect.width > 0 && rect.height > 0;
  };
  const isInline = (el) => getComputedStyle(el).display === 'inline';
  // A link in running text: its line holds other words (not only punctuation between links).
  const inRunningText = (link) => {
    let container = link.parentElement;
    while (container && isInline(container)) container = container.parentElement;
    if (!container) return false;
    let text = '';
    const walk = (node) => {
      for (const child of node.childNodes) {
        if (child === link) continue;
        if (child.nodeType === Node.TEXT_NODE) text += child.textContent;
        else if (child.nodeType === Node.ELEMENT_NODE && isInline(child)
                 && !child.matches('a[href], button, input, select, textarea')) walk(child);
      }
    };
    walk(container);
    return /[\p{L}\p{N}]/u.test(text);
  };

  // 1. Nothing wider than the screen, unless inside a box that scrolls sideways on its own.
  if (document.documentElement.scrollWidth > width) {
    const wide = [...document.body.querySelectorAll('*')].filter(el => {
      if (el.getBoundingClientRect().right <= width + 1 || !shown(el)) return false;
      for (let p = el.parentElement; p; p = p.parentElement) {
        if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return false;
      }
      return true;
    });
    problems.push(`horizontal overflow: page ${document.documentElement.scrollWidth} px > screen ${width} px; `
      + `sticking out: ${wide.slice(0, 4).map(describe).join(', ') || '?'}`);
  }

  // 2. Touch targets.
  const targets = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, label');
  for (const el of targets) {
    if (el.tagName === 'LABEL' && !el.querySelector('input, select, textarea')) continue;
    if (el.disabled || !shown(el)) continue;
    if (el.tagName === 'A' && inRunningText(el)) continue;
    let rect = el.getBoundingClientRect();
    // A checkbox or radio is tapped together with its label: measure the two as one target.
    if (el.matches('input[type=checkbox], input[type=radio]')) {
      const boxes = [rect, ...[...(el.labels || [])].filter(shown).map(l => l.getBoundingClientRect())];
      const left = Math.min(...boxes.map(b => b.left)), right = Math.max(...boxes.map(b => b.right));
      const top = Math.min(...boxes.map(b => b.top)), bottom = Math.max(...boxes.map(b => b.bottom));
      rect = {width: right - left, height: bottom - top};
    }
    if (rect.width < minimumTarget - 0.5 || rect.height < minimumTarget - 0.5) {
      problems.push(`small target ${Math.round(rect.width)}×${Math.round(rect.height)} px: ${describe(el)}`);
    }
  }

  // 3. Text size: every element that draws words directly.
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('svg, .chart, script, style, option, .visually-hidden, .skip-link')) continue;
    const words = [...el.childNodes].some(n => n.nodeType === Node.TEXT_NODE && /[\p{L}\p{N}]/u.test(n.textContent));
    if (!words || !shown(el)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < minimumText - 0.5) problems.push(`small text ${size} px: ${describe(el)}`);
  }
  return problems;
}
"""

HEADER_HEIGHT = "() => document.querySelector('.site-header').getBoundingClientRect().height"
FIRST_ROW_LINKS = """
() => [...document.querySelectorAll('main table tbody tr')]
  .flatMap(row => [...row.querySelectorAll('a[href]')].map(a => a.getAttribute('href')))
"""


def phone_problems(page) -> list[str]:
    return page.evaluate(PHONE_CHECK, {"minimumTarget": MIN_TARGET_PX, "minimumText": MIN_TEXT_PX})


def log_in_on_a_phone(story, username: str):
    page = story.open_phone(**PHONE, scale=2)
    page.goto("/login")
    check(story, page, "login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(story.site.password)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("button", name="菜单")).to_be_visible()
    return page


def check(story, page, step: str, problems: list[str] | None = None) -> None:
    """Photograph the page (with the accessibility audit) and note its phone problems."""
    story.snap(page, step)
    found = phone_problems(page)
    if problems is None:
        assert not found, f"{page.url}:\n" + "\n".join(found)
        return
    problems.extend(f"{page.url}: {problem}" for problem in found)


def assert_menu_folds(story, page, problems: list[str]) -> list[str]:
    """Folded on load (a short header, no link of the menu shown); a tap opens it and its links are
    large enough; a second tap folds it again. Returns the menu's link paths."""
    menu = page.get_by_role("button", name="菜单")
    expect(menu).to_have_attribute("aria-expanded", "false")
    height = page.evaluate(HEADER_HEIGHT)
    assert height <= MAX_FOLDED_HEADER_PX, f"{page.url}: the folded header is {height} px high"
    navigation = page.get_by_role("navigation", name="主导航")
    expect(navigation).to_be_hidden()
    expect(page.get_by_role("button", name="退出登录")).to_be_hidden()
    menu.tap()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(navigation).to_be_visible()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    check(story, page, "menu-open", problems)
    paths = navigation.get_by_role("link").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert paths, f"{page.url}: the menu has no links"
    menu.tap()
    expect(navigation).to_be_hidden()
    return paths


@pytest.mark.parametrize("role", list(USERS))
def test_pages_on_a_phone(story, role):
    page = log_in_on_a_phone(story, USERS[role])
    problems: list[str] = []
    paths = assert_menu_folds(story, page, problems)
    seen: set[str] = set()
    for path in list(dict.fromkeys(paths + FORMS.get(role, []))):
        response = page.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        seen.add(path)
        check(story, page, path.strip("/").replace("/", "-") or "home", problems)
        height = page.evaluate(HEADER_HEIGHT)
        if height > MAX_FOLDED_HEADER_PX:
            problems.append(f"{page.url}: the folded header is {height} px high")
        # One detail page from the list: the first row's first link to a page not yet seen.
        for href in page.evaluate(FIRST_ROW_LINKS):
            if NOT_A_DETAIL_PAGE.search(href) or href.split("?")[0] in seen:
                continue
            seen.add(href.split("?")[0])
            response = page.goto(href)
            if response.status == 200 and response.headers.get("content-type", "").startswith("text/html"):
                check(story, page, f"{path.strip('/').replace('/', '-') or 'home'}-detail", problems)
            else:
                problems.append(f"{href} (first row of {path}): {response.status}")
            break
    assert not problems, f"{role} on a phone:\n" + "\n".join(problems)


def test_desktop_keeps_its_bar(story):
    """At desk size nothing folds: no 菜单 button, the whole navigation in one row beside the title."""
    page = story.login("office")
    expect(page.get_by_role("button", name="菜单")).to_be_hidden()
    links = page.get_by_role("navigation", name="主导航").get_by_role("link")
    expect(links.first).to_be_visible()
    tops = links.evaluate_all("links => links.map(a => Math.round(a.getBoundingClientRect().top))")
    title = page.get_by_role("link", name="暗访督查系统").bounding_box()
    assert len(set(tops)) == 1 and abs(tops[0] - title["y"]) < 20, f"the bar wraps: {tops}, title at {title}"
