"""Accessibility checks run inside the page: every control labelled, every button and link named,
and WCAG contrast of the text as the browser draws it.

`audit(page)` returns the problems (empty when the page passes) and what it checked, by kind, so
a test can prove that links, buttons, the navigation, badges and flash messages were measured.
"""

from __future__ import annotations

# WCAG 2.x AA for body text; applied to all text, large or not, so headings need no exception.
MINIMUM_CONTRAST = 4.5

AUDIT_SCRIPT = r"""
(minimum) => {
  const problems = [];
  const checked = {};
  const describe = (el) => {
    const id = el.id ? '#' + el.id : '';
    const name = el.getAttribute('name') ? `[name=${el.getAttribute('name')}]` : '';
    const text = (el.innerText || el.value || '').trim().slice(0, 40);
    return `<${el.tagName.toLowerCase()}${id}${name}> ${text}`;
  };
  const visible = (el) => {
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.display === 'none') return false;
    const rect = el.getBoundingClientRect();
    // Visually hidden helpers (1 px clip) and the off-screen skip link are not drawn text.
    return rect.width > 1 && rect.height > 1 && rect.right > 0 && rect.bottom > 0;
  };
  const textOf = (id) => ((document.getElementById(id) || {}).textContent || '').trim();

  // 1. Every form control has an accessible label.
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const byFor = el.id ? [...document.querySelectorAll('label')].filter(l => l.htmlFor === el.id) : [];
    const wrapping = el.closest('label');
    const labelled = byFor.some(l => l.textContent.trim())
      || (wrapping && wrapping.textContent.trim())
      || (el.getAttribute('aria-label') || '').trim()
      || (el.getAttribute('aria-labelledby') || '').split(/\s+/).some(id => id && textOf(id));
    checked.control = (checked.control || 0) + 1;
    if (!labelled) problems.push(`unlabelled control ${describe(el)}`);
  }

  // 2. Every button and link has a name.
  for (const el of document.querySelectorAll('button, [role=button], input[type=submit], input[type=button], a[href]')) {
    const images = [...el.querySelectorAll('img[alt]')].map(img => img.alt.trim()).join('');
    const name = (el.innerText || el.value || el.getAttribute('aria-label') || el.getAttribute('title') || images || '')
      .trim() || (el.getAttribute('aria-labelledby') || '').split(/\s+/).map(textOf).join('');
    checked.named = (checked.named || 0) + 1;
    if (!name) problems.push(`nameless ${el.tagName.toLowerCase()} ${describe(el)}`);
  }

  // 3. Contrast of drawn text against the backgrounds painted beneath it.
  const parse = (value) => {
    const match = /rgba?\(([^)]+)\)/.exec(value || '');
    if (!match) return null;
    const parts = match[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [parts[0], parts[1], parts[2], parts.length > 3 ? parts[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const backgroundOf = (el) => {
    const chain = [];
    for (let node = el; node; node = node.parentElement) chain.unshift(node);
    let colour = [255, 255, 255, 1];
    for (const node of chain) {
      const paint = parse(getComputedStyle(node).backgroundColor);
      if (paint && paint[3] > 0) colour = over(paint, colour);
    }
    return colour;
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.slice(0, 3).map(v => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  const kindOf = (el) => {
    if (el.closest('.flash, .flashes')) return 'flash';
    if (el.closest('.site-nav')) return 'nav';
    if (el.closest('.role-badge, .status, .badge')) return 'badge';
    if (el.closest('button, .button, [role=button], input[type=submit]')) return 'button';
    if (el.closest('a[href]')) return 'link';
    if (el.closest('.site-header')) return 'header';
    if (el.closest('select, input, textarea')) return 'control';
    return 'text';
  };
  const drawsText = (el) => {
    if (el.matches('select, input[type=submit], input[type=button]')) return true;
    if (el.matches('input[type=text], input[type=number], input[type=date], input[type=password], textarea'))
      return Boolean(el.value);
    return [...el.childNodes].some(node => node.nodeType === Node.TEXT_NODE && node.textContent.trim());
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (el.matches('script, style, option, svg *, .chart *') || !drawsText(el) || !visible(el)) continue;
    if (el.disabled) continue;  // WCAG exempts inactive controls
    const style = getComputedStyle(el);
    const background = backgroundOf(el);
    const ink = parse(style.color);
    if (!ink) continue;
    const foreground = over(ink, background);
    const value = ratio(foreground, background);
    const kind = kindOf(el);
    checked[kind] = (checked[kind] || 0) + 1;
    if (value < minimum) {
      problems.push(`contrast ${value.toFixed(2)}:1 < ${minimum}:1 (${kind}) ${describe(el)}`
        + ` colour ${style.color} on rgb(${background.slice(0, 3).map(Math.round).join(', ')})`);
    }
  }
  return {problems, checked};
}
"""


def audit(page) -> dict:
    """{"problems": [...], "checked": {kind: count}} for the page as it is now."""
    return page.evaluate(AUDIT_SCRIPT, MINIMUM_CONTRAST)


def assert_accessible(page) -> dict:
    result = audit(page)
    assert not result["problems"], f"{page.url}:\n" + "\n".join(result["problems"])
    return result["checked"]
