import { parseServerTime } from "./geo.js";

// Small DOM helpers shared by the screens: element building, Beijing-time formatting, busy
// buttons with Chinese error messages, and a confirmation dialog. No framework: the shell stays
// small and the CSP allows no inline script or style, so nothing here writes markup strings.

/** h("button", {class: "primary", onclick}, "揭封") → an element; children may be arrays or null. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else if (key === "value" || key === "checked" || key === "disabled" || key === "hidden") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

let counter = 0;
/** A unique id for label/control pairs. */
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A label and its control, joined by id. */
export function field(labelText, control, hint) {
  if (!control.id) control.id = uid();
  const hintEl = hint ? h("p", { class: "hint", id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, labelText), control, hintEl);
}

// --- time: every date a person sees is Beijing time -------------------------------------------

const BEIJING = "Asia/Shanghai";
const partsFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: BEIJING, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

function beijingParts(value) {
  if (value === null || value === undefined || value === "") return null;
  // The server writes UTC, sometimes without an offset: parseServerTime reads that as UTC.
  const date = value instanceof Date ? value : typeof value === "number" ? new Date(value) : parseServerTime(value);
  if (!date || Number.isNaN(date.getTime())) return null;
  return Object.fromEntries(partsFormat.formatToParts(date).map((p) => [p.type, p.value]));
}

/** 2026-12-03 14:05 (Beijing time). */
export function dateTime(value) {
  const p = beijingParts(value);
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}` : "—";
}

/** 14:05 (Beijing time). */
export function clock(value) {
  const p = beijingParts(value);
  return p ? `${p.hour}:${p.minute}` : "—";
}

/** 2026年12月3日 (Beijing time); a plain "YYYY-MM-DD" date is shown as it is. */
export function day(value) {
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const [y, m, d] = value.split("-").map(Number);
    return `${y}年${m}月${d}日`;
  }
  const p = beijingParts(value);
  return p ? `${Number(p.year)}年${Number(p.month)}月${Number(p.day)}日` : "—";
}

/** 14:00–17:00, or with the day when the window spans days. */
export function windowText(start, end) {
  if (!start && !end) return "—";
  const a = beijingParts(start);
  const b = beijingParts(end);
  if (a && b && a.year === b.year && a.month === b.month && a.day === b.day) {
    return `${dateTime(start)}–${b.hour}:${b.minute}`;
  }
  return `${dateTime(start)} 至 ${dateTime(end)}`;
}

export function metres(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} 公里` : `${Math.round(value)} 米`;
}

export function yuan(amount) {
  return amount === null || amount === undefined || amount === "" ? "" : `${amount} 元`;
}

// --- actions ----------------------------------------------------------------------------------

/** The message a person can read for an error the engine or the browser threw. */
export function messageOf(error) {
  if (!error) return "操作失败。";
  const text = String(error.message || error);
  if (/[\u4e00-\u9fff]/.test(text)) return text;
  if (error.name === "QuotaExceededError") return "手机存储空间不足，无法保存。请清理空间后重试。";
  if (/fetch|network/i.test(text)) return "无法连接服务器，请检查网络后重试。";
  return `操作失败：${text}`;
}

/** An error region (role=alert) that a screen places where the inspector looks. */
export function errorBox() {
  const box = h("p", { class: "error", role: "alert", hidden: true });
  box.show = (error) => {
    box.textContent = typeof error === "string" ? error : messageOf(error);
    box.hidden = false;
  };
  box.hide = () => {
    box.textContent = "";
    box.hidden = true;
  };
  return box;
}

/** Runs `action` with the button disabled; an error goes to `errors` (an errorBox) or a toast. */
export async function busy(button, action, errors) {
  if (button) button.disabled = true;
  errors?.hide?.();
  try {
    return await action();
  } catch (error) {
    if (errors?.show) errors.show(error);
    else toast(messageOf(error), "error");
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function button(text, onclick, props = {}) {
  return h("button", { type: "button", ...props, class: ["btn", props.class], onclick }, text);
}

export function link(text, hash, props = {}) {
  return h("a", { ...props, class: ["btn", props.class], href: hash }, text);
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

// --- feedback ---------------------------------------------------------------------------------

let toastTimer = null;
/** A short message at the bottom of the screen (role=status, read by screen readers). */
export function toast(message, kind = "info", { long = false } = {}) {
  let el = document.getElementById("toast");
  if (!el) {
    el = h("p", { id: "toast", class: "toast", role: "status", "aria-live": "polite" });
    document.body.append(el);
  }
  el.textContent = message;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toastTimer);
  // Errors and notices the inspector must read stay longer than a passing confirmation.
  toastTimer = setTimeout(() => { el.hidden = true; }, kind === "error" || long ? 8000 : 4000);
}

/** A modal question; resolves true for the confirming button, false otherwise. */
export function confirmDialog({ title, body = [], ok = "确定", cancel = "取消", danger = false }) {
  return new Promise((resolve) => {
    const titleId = uid("dialog");
    const dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("div", { class: "dialog-body" }, body),
      h("div", { class: "actions" },
        button(cancel, () => dialog.close("cancel"), { class: "secondary" }),
        button(ok, () => dialog.close("ok"), { class: danger ? "danger" : "primary" })));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A section with a heading. */
export function section(title, ...children) {
  const id = uid("sec");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), children);
}

/** A definition list from [label, value] pairs (null values skipped). */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter((p) => p && p[1] !== null && p[1] !== undefined && p[1] !== "")
    .map(([label, value, cls]) => [h("dt", {}, label), h("dd", { class: cls }, value)]));
}

/** An object URL for a Blob, revoked when the next screen is drawn. */
const urls = [];
export function blobUrl(blob) {
  const url = URL.createObjectURL(blob);
  urls.push(url);
  return url;
}
export function revokeUrls() {
  while (urls.length) URL.revokeObjectURL(urls.pop());
}
