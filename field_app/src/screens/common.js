// What several screens share: loading one assignment's record, the way back, the target card,
// the words for verdicts and penalties, and the record's summary (shown before signing and
// before submitting).
import { PENALTY_TYPES, getRecord } from "../fieldwork.js";
import { dateTime, facts, h, metres, section } from "../ui.js";

export const VERDICT_LABELS = { violation: "违规", compliant: "合规", incomplete: "待填写", not_applicable: "不适用" };
export const INSPECTION_STATUS = { draft: "记录中", submitted: "已提交" };
export const SERVER_STATUS = { draft: "服务器：记录中", submitted: "服务器：已提交", awaiting_evidence: "服务器：已提交，等待照片",
  complete: "服务器：已完整接收" };

/** The record of assignment `id`, or a screen saying it is not on this phone. */
export async function loadRecord(id) {
  return getRecord(id);
}

export function backLink(hash, text) {
  return h("p", { class: "crumbs" }, h("a", { href: hash }, `‹ ${text}`));
}

export function recordStatusBadge(assignment) {
  if (!assignment.revealed) return h("span", { class: "badge" }, "未揭封");
  if (!assignment.inspection) return h("span", { class: "badge pending" }, "已揭封，待签到");
  const { status, server_status: server } = assignment.inspection;
  if (status === "submitted") {
    return h("span", { class: "badge compliant" }, server === "complete" ? "已提交，服务器已完整接收" : "已提交");
  }
  return h("span", { class: "badge pending" }, "记录中");
}

export function isSubmitted(record) {
  return record.inspection?.status === "submitted";
}

/** 督查对象: name, address, category, capacity. */
export function targetCard(target, title = "督查对象") {
  return section(title, facts([
    ["名称", target.name],
    ["地址", target.address],
    ["类别", target.category],
    ["所在地", [target.county, target.town].filter(Boolean).join(" ")],
    ["核定人数", target.approved_capacity === null || target.approved_capacity === undefined
      ? "未登记" : `${target.approved_capacity} 人`],
    ["经营者", target.operator_name],
  ]));
}

/** 签到 time, distance and its flags. */
export function checkInFacts(inspection) {
  const place = inspection.latitude === null || inspection.latitude === undefined
    ? ["位置", "未提供位置", "flag"]
    : ["距场所", inspection.distance_m === null || inspection.distance_m === undefined ? "场所无坐标，无法计算"
      : `${metres(inspection.distance_m)}${inspection.far ? `（超出 ${metres(inspection.radius_m)} 范围，已记录）` : ""}`,
    inspection.far ? "flag" : ""];
  return facts([
    ["签到时间", dateTime(inspection.checked_in_at)],
    place,
    inspection.outside_window ? ["时间窗口", "签到时不在任务时间窗口内（已记录）", "flag"] : null,
  ]);
}

export function ruleTitle(record, code) {
  const rule = record.rules.find((r) => r.code === code);
  return rule ? `${code} ${rule.title}` : code;
}

export function basisOf(record, code) {
  return record.legalBases.find((b) => b.code === code) || null;
}

export function citation(basis) {
  return basis ? `《${basis.law}》${basis.article}` : "";
}

export function penaltyText(record, penalty) {
  const kind = PENALTY_TYPES[penalty.type] || penalty.type;
  const amount = penalty.type === "fine" && penalty.amount !== null && penalty.amount !== undefined ? ` ${penalty.amount} 元` : "";
  const basis = penalty.basis_code ? `，依据${citation(basisOf(record, penalty.basis_code)) || penalty.basis_code}` : "";
  const refused = penalty.not_on_server ? "（服务器未接收）" : "";
  return `${kind}${amount}${basis}${refused}`;
}

/** The violated checks with their numbers, e.g. "K3 接待人数不超过核定人数的50%：600 人 > 507 人（…）". */
export function violations(record) {
  const lines = [];
  for (const result of record.results) {
    for (const check of result.checks || []) {
      if (check.outcome !== "violation") continue;
      lines.push(`${result.code} ${check.description}${check.shown ? `：${check.shown}` : ""}`);
    }
  }
  const evaluated = new Set(record.findings.filter((f) => f.source === "evaluator").map((f) => `${f.rule_code}/${f.check_code}`));
  for (const finding of record.findings) {
    if (finding.source !== "evaluator" && !evaluated.has(`${finding.rule_code}/${finding.check_code}`)) {
      lines.push(`${finding.rule_code} ${finding.description}（手动添加）`);
    }
  }
  return lines;
}

/** The record in a few lines: venue, time, violations with their numbers, photos, penalties. */
export function recordSummary(record, title = "记录摘要") {
  const found = violations(record);
  return section(title,
    facts([
      ["场所", record.target.name],
      ["地址", record.target.address],
      ["检查时间", dateTime(record.inspection.checked_in_at)],
      ["照片", `${record.photos.length} 张`],
      ["签字", `${record.signatures.length} 人`],
    ]),
    h("h3", {}, found.length ? `发现的问题（${found.length} 项）` : "发现的问题"),
    found.length ? h("ul", { class: "summary-list" }, found.map((line) => h("li", {}, line)))
      : h("p", {}, "未发现违规问题。"),
    h("h3", {}, "处罚建议"),
    record.penalties.length
      ? h("ul", { class: "summary-list" }, record.penalties.map((p) => h("li", {}, penaltyText(record, p))))
      : h("p", {}, "无。"),
    record.notes.length ? [h("h3", {}, "正/反面典型"), h("ul", { class: "summary-list" },
      record.notes.map((n) => h("li", {}, `${n.kind === "positive" ? "正面" : "反面"}：${n.text}`)))] : null);
}

/** A screen for an assignment that has no record yet (not revealed or not checked in). */
export function notStarted(view, id) {
  view.append(backLink(`#/a/${id}`, "返回任务"),
    h("p", { class: "notice" }, "请先揭封并签到，再记录。"));
}

/** Tell the header that the outbox changed. */
export function changed() {
  window.dispatchEvent(new Event("anfang:changed"));
}
