// One task: 揭封 (keypad, or online), then the target and 签到 with the phone's position, then the
// record's sections (检查, 问题, 正/反面典型, 签字, 提交); after submission a read-only summary
// with 更正.
import { checkIn, revealOnline, revealWithCode } from "../fieldwork.js";
import { currentPosition } from "../geo.js";
import { busy, button, dateTime, day, errorBox, facts, h, link, metres, section, toast, windowText } from "../ui.js";
import { codeKeypad } from "./keypad.js";
import {
  INSPECTION_STATUS, SERVER_STATUS, backLink, changed, checkInFacts, isSubmitted, loadRecord, recordSummary, targetCard,
} from "./common.js";

// The check-in's answer, shown once on the record screen that follows it.
const justCheckedIn = new Map();

export async function assignmentScreen(view, { params, app }) {
  const [id] = params;
  const record = await loadRecord(id);
  const { assignment, target, inspection } = record;
  view.append(backLink("#/assignments", "任务列表"));
  if (!target) {
    revealPart(view, record, app);
  } else if (!inspection) {
    view.append(h("h2", {}, target.name), h("p", { class: "success", role: "status" }, "已揭封。到达现场后请签到。"),
      targetCard(target), checkInPart(record, app));
  } else {
    view.append(h("h2", {}, target.name));
    const answer = justCheckedIn.get(String(assignment.id));
    justCheckedIn.delete(String(assignment.id));
    if (answer) view.append(checkInMessage(answer));
    // The server kept this record beside another device's: the office decides which stands.
    if (inspection.parallel_notice) view.append(h("p", { class: "notice" }, inspection.parallel_notice));
    view.append(targetCard(target));
    view.append(section("签到", checkInFacts(inspection)));
    if (isSubmitted(record)) submittedPart(view, record);
    else view.append(recordMenu(record));
  }
  view.append(section("任务信息", facts([
    ["任务编号", String(assignment.id)],
    ["状态", assignment.status_label || assignment.status],
    ["日期", assignment.visit_date ? day(assignment.visit_date) : null],
    ["时间窗口", windowText(assignment.window_start, assignment.window_end)],
    ["集合地点", assignment.meeting_point],
    ["督查组", (assignment.members || []).map((m) => `${m.display_name}${m.is_leader ? "（组长）" : ""}`).join("、")],
    ["处罚建议", assignment.may_propose_penalties ? "可提出" : "不可提出"],
  ])));
}

// --- 揭封 ------------------------------------------------------------------------------------

function revealPart(view, record, app) {
  const { assignment } = record;
  const errors = errorBox();
  const reveal = async () => {
    const code = keypad.value();
    if (code.length !== 10) {
      errors.show(code.length ? `揭封码应为 10 位，已输入 ${code.length} 位。` : "请输入揭封码。");
      return;
    }
    const target = await busy(revealButton, () => revealWithCode(assignment.id, code), errors);
    if (target) done(target);
  };
  const done = (target) => {
    toast(`已揭封：${target.name}`);
    changed();
    app.redraw();
  };
  const keypad = codeKeypad({ onEnter: reveal, onChange: () => errors.hide(), errors });
  const revealButton = button("揭封", reveal, { class: "primary block" });
  const online = button("联网揭封", async () => {
    const target = await busy(online, () => revealOnline(assignment.id), errors);
    if (target) done(target);
  }, { class: "secondary block", dataset: { onlineOnly: "" } });
  const onlineHint = h("p", { class: "hint", dataset: { onlineOnly: "" } }, "联网揭封：在任务时间窗口内，由服务器发放密钥（留痕）。");
  online.hidden = onlineHint.hidden = !navigator.onLine;
  view.append(h("h2", {}, `揭封任务 ${assignment.id}`),
    h("p", { class: "muted" }, "督查对象在揭封前保密。到达集合地点后，在时间窗口内输入办公室告知的揭封码；无需网络。"),
    assignment.status === "sealed"
      ? h("p", { class: "notice", role: "status" }, "该任务尚未派发，本机还没有信封：派发后请联网下载任务。") : null,
    h("div", { class: "card" }, keypad.element, revealButton,
      h("div", { class: "actions" }, online), onlineHint));
}

// --- 签到 ------------------------------------------------------------------------------------

function checkInPart(record, app) {
  const { assignment } = record;
  const errors = errorBox();
  const status = h("p", { class: "muted", role: "status" });
  const finish = (answer) => {
    justCheckedIn.set(String(assignment.id), answer);
    changed();
    app.redraw();
  };
  const withPosition = button("使用手机定位签到", async () => {
    status.textContent = "正在获取位置…";
    const answer = await busy(withPosition, async () => {
      const position = await currentPosition();
      if (!position) {
        status.textContent = "";
        errors.show("未能获取手机位置（未授权定位或信号弱）。可以重试，或选择“不提供位置签到”。");
        return null;
      }
      return checkIn(assignment.id, position);
    }, errors);
    if (answer) finish(answer);
  }, { class: "primary block" });
  const withoutPosition = button("不提供位置签到", async () => {
    const answer = await busy(withoutPosition, () => checkIn(assignment.id, null), errors);
    if (answer) finish(answer);
  }, { class: "secondary block" });
  return section("签到",
    h("p", {}, "到达现场后签到：记录签到时间和手机位置，并计算与场所的距离。距离过远或不在时间窗口内会标注，但不影响记录。"),
    h("div", { class: "actions" }, withPosition, withoutPosition), status, errors);
}

function checkInMessage(answer) {
  const lines = [];
  if (answer.distance_m === null || answer.distance_m === undefined) {
    lines.push(answer.inspection?.latitude === null ? "已签到（未提供位置）。" : "已签到（场所无坐标，无法计算距离）。");
  } else {
    lines.push(`已签到，距场所 ${metres(answer.distance_m)}。`);
  }
  if (answer.far) lines.push("签到位置远离场所，已记录。");
  if (answer.outsideWindow) lines.push("签到时间不在任务时间窗口内，已记录。");
  const flagged = answer.far || answer.outsideWindow;
  return h("div", { class: flagged ? "error" : "success", role: "status" }, lines.map((line) => h("p", {}, line)));
}

// --- the record's sections -------------------------------------------------------------------

function recordMenu(record) {
  const id = record.assignment.id;
  const rulesViolated = record.results.filter((r) => r.verdict === "violation").length;
  const filled = Object.keys(record.observations).length;
  const items = record.rules.reduce((n, rule) => n + (rule.items || []).length, 0);
  const entry = (hash, title, note) => h("li", {}, h("a", { href: hash }, h("span", {}, title), h("span", { class: "muted" }, note)));
  return section("督查记录",
    h("p", {}, "状态：", INSPECTION_STATUS[record.inspection.status] || record.inspection.status),
    h("ul", { class: "menu" },
      entry(`#/a/${id}/check`, "检查", `已填 ${filled}/${items} 项${rulesViolated ? ` · 违规 ${rulesViolated} 条` : ""}`),
      entry(`#/a/${id}/findings`, "问题与照片", `问题 ${record.findings.length} 项 · 照片 ${record.photos.length} 张`),
      entry(`#/a/${id}/notes`, "正/反面典型", `${record.notes.length} 条`),
      entry(`#/a/${id}/sign`, "签字", `${record.signatures.length} 人`),
      entry(`#/a/${id}/submit`, "提交", "提交后不能修改")));
}

function submittedPart(view, record) {
  const { inspection } = record;
  const id = record.assignment.id;
  const uploaded = record.photos.filter((p) => p.uploaded).length;
  view.append(
    h("p", { class: "success", role: "status" },
      `已于 ${dateTime(inspection.submitted_at)} 提交，记录不能再修改。`,
      inspection.server_status ? ` ${SERVER_STATUS[inspection.server_status] || inspection.server_status}。` : " 联网后自动同步到服务器。"),
    recordSummary(record),
    section("照片上传", h("p", {}, `已上传 ${uploaded}/${record.photos.length} 张。`)),
    h("ul", { class: "menu" },
      h("li", {}, h("a", { href: `#/a/${id}/check` }, h("span", {}, "查看检查结果"), h("span", { class: "muted" }, "只读"))),
      h("li", {}, h("a", { href: `#/a/${id}/findings` }, h("span", {}, "查看问题与照片"), h("span", { class: "muted" }, "只读")))),
    record.amendments.length ? section("更正记录", h("ul", { class: "summary-list" },
      record.amendments.map((a) => h("li", {}, `${dateTime(a.created_at)}：${a.reason}`)))) : "",  // DOM append writes null as "null"
    h("div", { class: "actions" }, link("更正", `#/a/${id}/amend`, { class: "primary" })));
}
