// The reveal code's keypad: the 32 Crockford base-32 symbols (0-9, A-Z without I L O U) as big
// buttons, 删除 and 清空. Typing works too: case-insensitive, dash optional, and the letters a
// tired eye confuses are read as Crockford reads them (I, L → 1; O → 0). Shown as XXXXX-XXXXX.
import { button, h } from "../ui.js";

export const SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const CODE_LENGTH = 10;

/** The code's symbols only: upper case, Crockford's look-alikes mapped, anything else dropped. */
export function normalizeCode(text) {
  return String(text || "").toUpperCase().replace(/[IL]/g, "1").replace(/O/g, "0")
    .split("").filter((c) => SYMBOLS.includes(c)).join("").slice(0, CODE_LENGTH);
}

/** XXXXX-XXXXX (the dash once five symbols are there). */
export function groupCode(symbols) {
  return symbols.length > 5 ? `${symbols.slice(0, 5)}-${symbols.slice(5)}` : symbols;
}

/** {element, input, value(), clear()}: the code field and its keypad; `onEnter` on Enter. */
export function codeKeypad({ onEnter, onChange, errors = null } = {}) {
  const input = h("input", {
    type: "text", id: "reveal-code", name: "code", class: "code-input", autocomplete: "off", autocapitalize: "characters",
    spellcheck: "false", maxlength: "16", placeholder: "XXXXX-XXXXX", "aria-describedby": "reveal-code-hint",
  });
  const set = (symbols) => {
    input.value = groupCode(symbols);
    onChange?.(symbols);
  };
  input.addEventListener("input", () => {
    set(normalizeCode(input.value));
    input.setSelectionRange(input.value.length, input.value.length);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      onEnter?.();
    }
  });
  const press = (symbol) => set(normalizeCode(input.value + symbol));
  const keys = h("div", { class: "keypad", role: "group", "aria-label": "揭封码键盘" },
    SYMBOLS.split("").map((symbol) => button(symbol, () => press(symbol), { "aria-label": `输入 ${symbol}` })),
    button("删除", () => set(normalizeCode(input.value).slice(0, -1)), { class: "wide", "aria-label": "删除一位" }),
    button("清空", () => set(""), { class: "wide" }));
  const element = h("div", { class: "field" },
    h("label", { for: input.id }, "揭封码"),
    input,
    h("p", { class: "hint", id: "reveal-code-hint" }, "输入办公室派发时告知的 10 位揭封码，不区分大小写，短横线可省略。"),
    errors,
    keys);
  return { element, input, value: () => normalizeCode(input.value), clear: () => set("") };
}
