// 被拒操作: each operation the server refused, with its reason, and the way to fix it — for a
// submitted record an amendment prefilled to answer (settle) it; for a draft, the record itself.
import { getRecord, listAssignments, refusedOperations } from "../fieldwork.js";
import { dateTime, h, link } from "../ui.js";
import { backLink } from "./common.js";

export const ENTITY_LABELS = {
  assignment_reveal: "揭封", inspection: "签到", observation: "检查项", finding: "问题", finding_withdrawal: "撤回问题",
  photo: "照片", penalty: "处罚建议", note: "典型材料", inspection_submission: "提交记录", amendment: "更正",
  signature: "签字",
};

/** Which assignment an operation belongs to: by the uuids its record holds. */
async function owners() {
  const map = new Map();
  for (const assignment of await listAssignments()) {
    map.set(assignment.uuid, assignment);
    if (!assignment.inspection) continue;
    const record = await getRecord(assignment.id);
    const entry = { assignment, record };
    map.set(record.inspection.uuid, entry);
    for (const list of [record.findings, record.photos, record.penalties, record.notes, record.signatures, record.amendments]) {
      for (const row of list) map.set(row.uuid, entry);
    }
  }
  return map;
}

export async function refusedScreen(view) {
  const refused = await refusedOperations();
  view.append(backLink("#/assignments", "任务列表"), h("h2", {}, `被拒操作（${refused.length} 项）`));
  if (!refused.length) {
    view.append(h("p", { class: "success" }, "没有被服务器拒绝的操作。"));
    return;
  }
  view.append(h("p", { class: "muted" }, "以下操作被服务器拒绝，不会自动重发。请按原因处理：已提交的记录用“更正”答复；未提交的记录直接修改。"));
  const byUuid = await owners();
  view.append(h("ul", { class: "list" }, refused.map((op) => {
    const key = op.entity === "observation" ? op.entity_id.split("/")[0] : op.entity_id;
    const owner = byUuid.get(key);
    const record = owner?.record;
    const assignment = owner?.assignment || (owner && owner.id ? owner : null);
    let fix = null;
    if (record?.inspection?.status === "submitted") {
      fix = link("更正并答复此项", `#/a/${assignment.id}/amend?settles=${op.op_id}`, { class: "primary" });
    } else if (assignment) {
      fix = link("打开记录修改", `#/a/${assignment.id}`, { class: "secondary" });
    }
    return h("li", { class: "card" },
      h("p", {}, h("strong", {}, ENTITY_LABELS[op.entity] || op.entity),
        record ? h("span", { class: "muted" }, ` · ${record.target?.name || `任务 ${assignment.id}`}`) : null),
      h("p", { class: "error" }, `服务器的理由：${op.reason || "未说明"}`),
      h("p", { class: "muted" }, `记录时间：${dateTime(op.created_at)}`),
      fix ? h("div", { class: "actions" }, fix) : null);
  })));
}
