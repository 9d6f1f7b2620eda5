// 检查: the checklist of the venue's rules. 是/否 toggles, number steppers (− / + and typing),
// choices and text. Each rule's verdict is shown live as values change, with the compared
// numbers (e.g. "600 人 > 507 人（核定人数 1014 人的 50%）"); values are saved on the phone a
// moment after the last change (and before leaving the screen).
import { evaluate, recordObservations, venueFacts } from "../fieldwork.js";
import { button, errorBox, h, messageOf, section, toast, uid } from "../ui.js";
import { VERDICT_LABELS, backLink, changed, isSubmitted, loadRecord, notStarted } from "./common.js";

const SAVE_DELAY_MS = 600;

export async function checklistScreen(view, { params, app }) {
  const [id] = params;
  const record = await loadRecord(id);
  if (!record.inspection) return notStarted(view, id);
  const readOnly = isSubmitted(record);
  const venue = venueFacts(record.target);
  const values = { ...record.observations };
  const pending = {};
  const errors = errorBox();
  const verdictBoxes = new Map();
  const ruleCards = new Map();
  let timer = null;
  let saving = Promise.resolve();

  const showResults = (results) => {
    for (const result of results) {
      const box = verdictBoxes.get(result.code);
      if (box) fillVerdict(box, result, record.rules.find((r) => r.code === result.code));
      ruleCards.get(result.code)?.classList.toggle("violation", result.verdict === "violation");
      ruleCards.get(result.code)?.classList.toggle("compliant", result.verdict === "compliant");
    }
  };
  const save = () => {
    clearTimeout(timer);
    timer = null;
    const batch = { ...pending };
    for (const key of Object.keys(batch)) delete pending[key];
    if (!Object.keys(batch).length) return saving;
    saving = saving.then(async () => {
      try {
        showResults(await recordObservations(record.inspection.uuid, batch));
        errors.hide();
        changed();
      } catch (error) {
        errors.show(`未保存：${messageOf(error)}`);
      }
    });
    return saving;
  };
  const setValue = (code, value, { now = false } = {}) => {
    values[code] = value;
    showResults(evaluate(record.rules, venue, values));
    if (readOnly) return;
    pending[code] = value;
    clearTimeout(timer);
    if (now) save();
    else timer = setTimeout(save, SAVE_DELAY_MS);
  };
  app.onLeave = save;
  window.addEventListener("pagehide", save, { once: true });

  view.append(backLink(`#/a/${id}`, "返回记录"),
    h("h2", {}, "检查"),
    h("p", { class: "muted" }, readOnly ? "记录已提交，检查结果只读；如需更正，请在记录页点“更正”。"
      : `${record.target.name}：逐项填写现场情况，判定随填写即时更新，并自动保存在本机。`),
    errors);
  if (!record.rules.length) view.append(h("p", { class: "card" }, "该场所类别没有适用的检查规则。"));
  for (const rule of record.rules) {
    const box = h("div", { class: "verdict", role: "status", "aria-live": "polite" });
    verdictBoxes.set(rule.code, box);
    const card = section(`${rule.code} ${rule.title}`,
      (rule.items || []).map((item) => itemControl(item, values[item.code], setValue, readOnly)), box);
    card.classList.add("rule");
    ruleCards.set(rule.code, card);
    view.append(card);
  }
  showResults(record.results.length ? record.results : evaluate(record.rules, venue, values));
  if (!readOnly) {
    const done = button("保存并返回", async () => {
      await save();
      if (!errors.hidden) return;
      toast("检查结果已保存。");
      location.hash = `#/a/${id}`;
    }, { class: "primary block" });
    view.append(h("div", { class: "actions" }, done));
  }
}

function fillVerdict(box, result, rule) {
  const label = VERDICT_LABELS[result.verdict] || result.verdict;
  box.className = `verdict ${result.verdict}`;
  const prompts = Object.fromEntries((rule?.items || []).map((item) => [item.code, item.prompt]));
  const lines = (result.checks || []).filter((check) => check.outcome !== "not_applicable").map((check) => {
    let text = `${check.description}：${VERDICT_LABELS[check.outcome] || check.outcome}`;
    if (check.shown) text += `（${check.shown}）`;
    if (check.outcome === "incomplete" && check.missing?.length) {
      text += `，尚未填写：${check.missing.map((name) => prompts[name.replace(/^obs\./, "")] || name).join("、")}`;
    }
    return h("li", {}, text);
  });
  // DOM append/replaceChildren write a null child as the text "null": nothing is "".
  box.replaceChildren(h("strong", {}, `判定：${label}`), lines.length ? h("ul", {}, lines) : "");
}

function itemControl(item, value, setValue, readOnly) {
  const promptId = uid("prompt");
  const wrap = (control, labelFor = null) => h("div", { class: "item" },
    labelFor ? h("label", { class: "prompt", id: promptId, for: labelFor }, item.prompt)
      : h("p", { class: "prompt", id: promptId }, item.prompt),
    control);
  if (item.value_type === "boolean") {
    const yes = button("是", () => choose(true), { "aria-pressed": String(value === true), disabled: readOnly });
    const no = button("否", () => choose(false), { "aria-pressed": String(value === false), disabled: readOnly });
    const choose = (answer) => {
      yes.setAttribute("aria-pressed", String(answer === true));
      no.setAttribute("aria-pressed", String(answer === false));
      setValue(item.code, answer, { now: true });
    };
    return wrap(h("div", { class: "toggle", role: "group", "aria-labelledby": promptId }, yes, no));
  }
  if (item.value_type === "integer") {
    const input = h("input", { type: "number", inputmode: "numeric", min: "0", step: "1", name: item.code, id: uid("num"),
      value: value === undefined || value === null ? "" : String(value), disabled: readOnly });
    const hint = h("p", { class: "hint", hidden: true });
    const typed = () => {
      const text = input.value.trim();
      if (!/^\d+$/.test(text)) {
        hint.textContent = text ? "请输入不小于 0 的整数。" : "";
        hint.hidden = !text;
        return null;
      }
      hint.hidden = true;
      return Number(text);
    };
    input.addEventListener("input", () => {
      const number = typed();
      if (number !== null) setValue(item.code, number);
    });
    input.addEventListener("change", () => {
      const number = typed();
      if (number !== null) setValue(item.code, number, { now: true });
    });
    const step = (delta) => {
      const current = /^\d+$/.test(input.value.trim()) ? Number(input.value) : 0;
      const next = Math.max(0, current + delta);
      input.value = String(next);
      hint.hidden = true;
      setValue(item.code, next);
    };
    const minus = button("−", () => step(-1), { "aria-label": `减少：${item.prompt}`, disabled: readOnly });
    const plus = button("+", () => step(1), { "aria-label": `增加：${item.prompt}`, disabled: readOnly });
    return wrap([h("div", { class: "stepper" }, minus, input, plus), hint], input.id);
  }
  if (item.value_type === "choice") {
    const name = uid("choice");
    return wrap(h("div", { class: "choices", role: "radiogroup", "aria-labelledby": promptId },
      (item.choices || []).map((choice) => {
        const radio = h("input", { type: "radio", name, value: choice.value, checked: value === choice.value, disabled: readOnly });
        radio.addEventListener("change", () => radio.checked && setValue(item.code, choice.value, { now: true }));
        return h("label", {}, radio, h("span", {}, choice.label));
      })));
  }
  const area = h("textarea", { id: uid("text"), name: item.code, rows: "3", disabled: readOnly });
  area.value = value ?? "";
  area.addEventListener("change", () => {
    if (area.value.trim()) setValue(item.code, area.value.trim(), { now: true });
  });
  return wrap(area, area.id);
}
