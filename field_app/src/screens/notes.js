// 正/反面典型: short notes for bulletins (五(五) publicise positive examples, expose negative ones).
import { addNote } from "../fieldwork.js";
import { busy, button, dateTime, errorBox, field, h, section, toast, uid } from "../ui.js";
import { backLink, changed, isSubmitted, loadRecord, notStarted } from "./common.js";

export async function notesScreen(view, { params, app }) {
  const [id] = params;
  const record = await loadRecord(id);
  if (!record.inspection) return notStarted(view, id);
  view.append(backLink(`#/a/${id}`, "返回记录"), h("h2", {}, "正/反面典型"),
    h("p", { class: "muted" }, "记录可用于通报的正面做法或反面问题。宣传部门使用前会隐去个人信息。"));
  view.append(record.notes.length
    ? h("ul", { class: "list" }, record.notes.map((note) => h("li", { class: "card" },
      h("span", { class: note.kind === "positive" ? "badge compliant" : "badge violation" }, note.kind === "positive" ? "正面典型" : "反面典型"),
      h("p", {}, note.text), h("p", { class: "muted" }, dateTime(note.created_at)))))
    : h("p", { class: "card" }, "还没有典型材料。"));
  if (isSubmitted(record)) return;
  const errors = errorBox();
  const name = uid("kind");
  const kinds = [["negative", "反面典型"], ["positive", "正面典型"]].map(([value, label], index) =>
    h("label", {}, h("input", { type: "radio", name, value, checked: index === 0 }), h("span", {}, label)));
  const text = h("textarea", { name: "text", rows: "4" });
  const add = button("保存", async () => {
    const kind = kinds.map((l) => l.querySelector("input")).find((r) => r.checked).value;
    const done = await busy(add, () => addNote(record.inspection.uuid, kind, text.value), errors);
    if (done) {
      changed();
      toast("已记录典型材料。");
      app.redraw();
    }
  }, { class: "primary block" });
  view.append(section("添加典型材料",
    h("div", { class: "choices", role: "radiogroup", "aria-label": "类别" }, kinds),
    field("说明", text), errors, add));
}
