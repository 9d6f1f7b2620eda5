// 更正: an amendment to a submitted record, with a required reason. It can change observations,
// add or withdraw findings, penalties and notes; opened from 被拒操作 it answers (settles) the
// refused operations named in ?settles=.
import { NOTE_KINDS, PENALTY_TYPES, amend, evaluate, refusedOperations, venueFacts } from "../fieldwork.js";
import { busy, button, dateTime, errorBox, field, h, section, toast, uid } from "../ui.js";
import { VERDICT_LABELS, backLink, changed, isSubmitted, loadRecord, notStarted, penaltyText, ruleTitle } from "./common.js";
import { ENTITY_LABELS } from "./refused.js";

export async function amendScreen(view, { params, query }) {
  const [id] = params;
  const record = await loadRecord(id);
  if (!record.inspection) return notStarted(view, id);
  view.append(backLink(`#/a/${id}`, "返回记录"), h("h2", {}, "更正记录"));
  if (!isSubmitted(record)) {
    view.append(h("p", { class: "notice" }, "该记录尚未提交，可直接修改，无需更正。"));
    return;
  }
  const settles = (query.get("settles") || "").split(",").filter(Boolean);
  const refused = settles.length ? (await refusedOperations()).filter((op) => settles.includes(op.op_id)) : [];
  const errors = errorBox();
  const reason = h("textarea", { name: "reason", rows: "3", required: true });
  view.append(h("p", { class: "muted" }, "更正以追加方式记录，不覆盖原记录；须写明原因。只填写需要更改的内容。"));
  if (refused.length) {
    view.append(section("答复被拒的操作", h("ul", { class: "summary-list" }, refused.map((op) =>
      h("li", {}, `${ENTITY_LABELS[op.entity] || op.entity}：${op.reason || "服务器未说明原因"}`)))));
  }
  view.append(section("更正原因", field("原因（必填）", reason)));

  // Observations: only the values changed are sent.
  const observations = {};
  const verdict = h("div", { class: "verdict", role: "status" });
  const showVerdict = () => {
    const results = evaluate(record.rules, venueFacts(record.target), { ...record.observations, ...observations });
    verdict.className = `verdict ${results.some((r) => r.verdict === "violation") ? "violation" : ""}`;
    verdict.replaceChildren(h("strong", {}, "更正后的判定"), h("ul", {}, results.map((r) => h("li", {},
      `${r.code}：${VERDICT_LABELS[r.verdict] || r.verdict}${r.checks.filter((c) => c.shown).map((c) => `（${c.shown}）`).join("")}`))));
  };
  const itemFields = record.rules.flatMap((rule) => (rule.items || []).map((item) => {
    const current = record.observations[item.code];
    const set = (value) => {
      if (value === null || value === current) delete observations[item.code];
      else observations[item.code] = value;
      showVerdict();
    };
    let control;
    if (item.value_type === "boolean" || item.value_type === "choice") {
      const options = item.value_type === "boolean" ? [[true, "是"], [false, "否"]] : (item.choices || []).map((c) => [c.value, c.label]);
      control = h("select", { name: item.code },
        h("option", { value: "" }, "不更改"), options.map(([value, label], index) => h("option", { value: String(index) }, label)));
      control.addEventListener("change", () => set(control.value === "" ? null : options[Number(control.value)][0]));
    } else if (item.value_type === "integer") {
      control = h("input", { type: "number", inputmode: "numeric", min: "0", step: "1", name: item.code });
      control.addEventListener("input", () => set(/^\d+$/.test(control.value) ? Number(control.value) : null));
    } else {
      control = h("input", { type: "text", name: item.code });
      control.addEventListener("input", () => set(control.value.trim() || null));
    }
    const shown = current === undefined ? "未填写" : current === true ? "是" : current === false ? "否"
      : (item.choices || []).find((c) => c.value === current)?.label ?? String(current);
    return field(`${item.prompt}（原为：${shown}）`, control);
  }));
  showVerdict();
  view.append(section("更正检查项", itemFields, verdict));

  // Only rows the server holds can be withdrawn or carry a new penalty.
  const findings = record.findings.filter(onServer);
  const penalties = record.penalties.filter(onServer);
  const notes = record.notes.filter(onServer);

  // Findings: withdraw, or add one.
  const withdrawnFindings = checkboxes(findings, (f) => `${ruleTitle(record, f.rule_code)}：${f.description}`);
  const newRule = h("select", { name: "new_rule" }, h("option", { value: "" }, "不新增"),
    record.rules.map((r) => h("option", { value: r.code }, `${r.code} ${r.title}`)));
  const newDescription = h("textarea", { name: "new_finding", rows: "2" });
  view.append(section("问题",
    findings.length ? [h("p", { class: "label" }, "撤回以下问题："), withdrawnFindings.element] : h("p", { class: "muted" }, "没有问题。"),
    field("新增问题的规则", newRule), field("新增问题的描述", newDescription)));

  // Penalties (when the assignment allows them): withdraw, or add one.
  let withdrawnPenalties = null;
  let penaltyParts = null;
  if (record.assignment.may_propose_penalties) {
    withdrawnPenalties = checkboxes(penalties, (p) => penaltyText(record, p));
    const finding = h("select", { name: "penalty_finding" }, h("option", { value: "" }, "不新增"),
      findings.map((f) => h("option", { value: f.uuid }, `${f.rule_code} ${f.description}`)));
    const type = h("select", { name: "penalty_type" }, Object.entries(PENALTY_TYPES).map(([v, l]) => h("option", { value: v }, l)));
    const amount = h("input", { type: "number", inputmode: "numeric", min: "1", step: "1", name: "penalty_amount" });
    const basis = h("select", { name: "penalty_basis" }, h("option", { value: "" }, "不填"),
      record.legalBases.map((b) => h("option", { value: b.code }, `《${b.law}》${b.article}`)));
    penaltyParts = { finding, type, amount, basis };
    view.append(section("处罚建议",
      penalties.length ? [h("p", { class: "label" }, "撤回以下处罚建议："), withdrawnPenalties.element] : null,
      field("新增处罚建议针对的问题", finding), field("处罚种类", type), field("罚款金额（元，仅罚款填写）", amount),
      field("法律依据", basis)));
  }

  // Notes.
  const withdrawnNotes = checkboxes(notes, (n) => `${NOTE_KINDS[n.kind]}：${n.text}`);
  const noteKind = h("select", { name: "note_kind" }, h("option", { value: "" }, "不新增"),
    Object.entries(NOTE_KINDS).map(([v, l]) => h("option", { value: v }, l)));
  const noteText = h("textarea", { name: "note_text", rows: "2" });
  view.append(section("正/反面典型",
    notes.length ? [h("p", { class: "label" }, "撤回以下材料："), withdrawnNotes.element] : null,
    field("新增材料的类别", noteKind), field("新增材料的说明", noteText)));

  const send = button("提交更正", async () => {
    const changes = {};
    if (Object.keys(observations).length) changes.observations = { ...observations };
    if (withdrawnFindings.values().length) changes.findings_withdrawn = withdrawnFindings.values();
    if (newRule.value || newDescription.value.trim()) {
      changes.findings_added = [{ rule_code: newRule.value, description: newDescription.value }];
    }
    if (withdrawnPenalties?.values().length) changes.penalties_withdrawn = withdrawnPenalties.values();
    if (penaltyParts?.finding.value) {
      const { finding, type, amount, basis } = penaltyParts;
      changes.penalties_added = [{ finding_uuid: finding.value, type: type.value,
        amount: type.value === "fine" ? amount.value : null, basis_code: basis.value || null }];
    }
    if (withdrawnNotes.values().length) changes.notes_withdrawn = withdrawnNotes.values();
    if (noteKind.value || noteText.value.trim()) changes.notes_added = [{ kind: noteKind.value, text: noteText.value }];
    const done = await busy(send, async () => {
      if (!reason.value.trim()) throw new Error("更正须写明原因。");
      if (!Object.keys(changes).length && !refused.length) throw new Error("没有要更正的内容。");
      return amend(record.inspection.uuid, reason.value, changes, refused.map((op) => op.op_id));
    }, errors);
    if (done) {
      changed();
      toast("已追加更正记录，联网后同步到服务器。");
      location.hash = `#/a/${id}`;
    }
  }, { class: "primary block" });
  view.append(errors, h("div", { class: "actions" }, send),
    record.amendments.length ? section("以往的更正", h("ul", { class: "summary-list" },
      record.amendments.map((a) => h("li", {}, `${dateTime(a.created_at)}：${a.reason}`)))) : "");  // DOM append writes null as "null"
}

/** Rows the server holds: only those can be withdrawn by an amendment. */
const onServer = (row) => !row.not_on_server;

function checkboxes(rows, label) {
  const boxes = rows.map((row) => {
    const box = h("input", { type: "checkbox", value: row.uuid, id: uid("w") });
    return { row, box, element: h("label", { class: "check", for: box.id }, box, h("span", {}, label(row))) };
  });
  return {
    element: h("div", {}, boxes.map((b) => b.element)),
    values: () => boxes.filter((b) => b.box.checked).map((b) => b.row.uuid),
  };
}
