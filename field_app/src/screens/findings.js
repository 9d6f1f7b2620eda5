// 问题: the evaluator's findings and those added by hand; per finding its 照片 (camera or
// gallery, with captions, thumbnails, SHA-256, EXIF time and a 位置远离场所 flag) and its
// 处罚建议 (type, amount, legal basis in force with its allowed range, checked as it is typed).
import { PENALTY_TYPES, addFinding, addPenalty, addPhoto, checkPenalty, fineRange, shanghaiDate } from "../fieldwork.js";
import { blobUrl, busy, button, dateTime, errorBox, field, h, messageOf, metres, section, toast, uid } from "../ui.js";
import { backLink, basisOf, changed, citation, isSubmitted, loadRecord, notStarted, penaltyText, ruleTitle } from "./common.js";

const SOURCE_LABELS = { evaluator: "自动判定", manual: "手动添加" };

export async function findingsScreen(view, { params, app }) {
  const [id] = params;
  const record = await loadRecord(id);
  if (!record.inspection) return notStarted(view, id);
  const readOnly = isSubmitted(record);
  view.append(backLink(`#/a/${id}`, "返回记录"), h("h2", {}, "问题"));
  if (!record.findings.length) {
    view.append(h("p", { class: "card" }, "尚未发现问题。检查中违规的项目会自动列为问题；也可以手动添加。"));
  } else {
    view.append(h("ul", { class: "list", "aria-label": "问题列表" }, record.findings.map((finding) => {
      const photos = record.photos.filter((p) => p.finding_uuid === finding.uuid).length;
      const penalties = record.penalties.filter((p) => p.finding_uuid === finding.uuid).length;
      return h("li", {}, h("a", { class: "task", href: `#/a/${id}/f/${finding.uuid}` },
        h("span", { class: "task-title" }, h("span", {}, ruleTitle(record, finding.rule_code)),
          h("span", { class: "badge violation" }, SOURCE_LABELS[finding.source] || finding.source)),
        h("span", {}, finding.description), h("br"),
        h("span", { class: "muted" }, `照片 ${photos} 张${record.assignment.may_propose_penalties ? ` · 处罚建议 ${penalties} 项` : ""} · 点此添加照片${record.assignment.may_propose_penalties ? "和处罚建议" : ""}`)));
    })));
  }
  const loose = record.photos.filter((p) => !p.finding_uuid);
  view.append(section("现场照片（未关联问题）", photoList(loose), readOnly ? null : photoPicker(record, null, app)));
  if (!readOnly) view.append(manualFinding(record, app));
}

function manualFinding(record, app) {
  const errors = errorBox();
  const rule = h("select", { name: "rule" }, record.rules.map((r) => h("option", { value: r.code }, `${r.code} ${r.title}`)));
  const description = h("textarea", { name: "description", rows: "3" });
  const add = button("添加问题", async () => {
    const uuid = await busy(add, () => addFinding(record.inspection.uuid, rule.value, description.value), errors);
    if (uuid) {
      changed();
      toast("已添加问题。");
      location.hash = `#/a/${record.assignment.id}/f/${uuid}`;
    }
  }, { class: "primary block" });
  return section("手动添加问题",
    h("p", { class: "muted" }, "检查表无法判定的问题（如出口未设专人引导），在此添加。"),
    field("所属规则", rule), field("问题描述", description), errors, add);
}

export async function findingScreen(view, { params, app }) {
  const [id, findingUuid] = params;
  const record = await loadRecord(id);
  if (!record.inspection) return notStarted(view, id);
  const finding = record.findings.find((f) => f.uuid === findingUuid);
  view.append(backLink(`#/a/${id}/findings`, "返回问题列表"));
  if (!finding) {
    view.append(h("p", { class: "error", role: "alert" }, "找不到该问题（可能已撤回）。"));
    return;
  }
  const readOnly = isSubmitted(record);
  view.append(h("h2", {}, `问题：${ruleTitle(record, finding.rule_code)}`),
    h("p", { class: "card" }, finding.description, h("br"),
      h("span", { class: "muted" }, `${SOURCE_LABELS[finding.source] || finding.source} · ${dateTime(finding.created_at)}`)));
  const photos = record.photos.filter((p) => p.finding_uuid === finding.uuid);
  view.append(section(`照片（${photos.length} 张）`, photoList(photos), readOnly ? null : photoPicker(record, finding.uuid, app)));
  if (record.assignment.may_propose_penalties) {
    const penalties = record.penalties.filter((p) => p.finding_uuid === finding.uuid);
    view.append(section("处罚建议",
      penalties.length ? h("ul", { class: "summary-list" }, penalties.map((p) => h("li", {}, penaltyText(record, p))))
        : h("p", { class: "muted" }, "尚未提出处罚建议。"),
      readOnly ? null : penaltyForm(record, finding, app)));
  }
}

// --- photos ----------------------------------------------------------------------------------

/** EXIF "2026:12:03 14:05:09" as 2026-12-03 14:05:09 (the camera's clock, as written). */
function exifTime(text) {
  return text ? text.replace(/^(\d{4}):(\d{2}):(\d{2})/, "$1-$2-$3") : null;
}

export function photoList(photos) {
  if (!photos.length) return h("p", { class: "muted" }, "还没有照片。");
  return h("ul", { class: "photos", "aria-label": "照片" }, photos.map((photo) => {
    const picture = photo.thumbnail || photo.blob;
    const alt = `照片${photo.caption ? `：${photo.caption}` : ""}`;
    return h("li", { class: "photo" },
      picture ? h("img", { src: blobUrl(picture), alt }) : h("span", { class: "muted" }, "无预览"),
      h("div", { class: "meta" },
        h("p", {}, photo.caption || h("span", { class: "muted" }, "（无说明）")),
        h("p", { class: "mono" }, `SHA-256 ${photo.sha256.slice(0, 12)}…`),
        h("p", {}, `拍摄时间：${exifTime(photo.exif_time) || "照片无记录"}`),
        photo.distance_m !== null && photo.distance_m !== undefined
          ? h("p", { class: photo.far ? "far" : "" }, photo.far ? `位置远离场所（${metres(photo.distance_m)}）` : `距场所 ${metres(photo.distance_m)}`)
          : h("p", { class: "muted" }, "照片无位置信息"),
        h("p", { class: photo.uploaded ? "" : "muted" }, photo.uploaded ? "已上传" : "待上传")));
  }));
}

// The caption typed for a finding's photos stays for the next ones (the screen redraws after each).
const captions = new Map();

/** 拍照 (camera) and 从相册选择 (gallery), both multiple, with the caption they will carry. */
function photoPicker(record, findingUuid, app) {
  const errors = errorBox();
  const progress = h("p", { class: "muted", role: "status" });
  const key = findingUuid || record.inspection.uuid;
  const caption = h("input", { type: "text", name: "caption", maxlength: "200", placeholder: "如：展厅内游客拥挤",
    value: captions.get(key) || "" });
  caption.addEventListener("input", () => captions.set(key, caption.value));
  const picker = (text, capture) => {
    const input = h("input", { type: "file", accept: "image/*", multiple: true, id: uid("file"),
      ...(capture ? { capture: "environment" } : {}) });
    input.addEventListener("change", async () => {
      const files = [...input.files];
      input.value = "";
      if (!files.length) return;
      errors.hide();
      let saved = 0;
      for (const [index, file] of files.entries()) {
        progress.textContent = `正在保存第 ${index + 1}/${files.length} 张照片…`;
        try {
          await addPhoto(record.inspection.uuid, file, { findingUuid, caption: caption.value });
          saved += 1;
        } catch (error) {
          errors.show(`${file.name}：${messageOf(error)}`);
        }
      }
      progress.textContent = "";
      if (saved) {
        changed();
        toast(`已保存 ${saved} 张照片。`);
        app.redraw();
      }
    });
    return h("div", { class: "file-pick" }, input, h("label", { for: input.id, class: "btn primary block" }, text));
  };
  return h("div", {},
    field("照片说明（用于接下来添加的照片）", caption),
    h("div", { class: "actions" }, picker("拍照", true), picker("从相册选择", false)),
    progress, errors);
}

// --- penalties -------------------------------------------------------------------------------

function penaltyForm(record, finding, app) {
  const errors = errorBox();
  const day = record.assignment.visit_date || shanghaiDate();
  const name = uid("ptype");
  const types = Object.entries(PENALTY_TYPES).map(([value, label]) => {
    const radio = h("input", { type: "radio", name, value, checked: value === "fine" });
    radio.addEventListener("change", update);
    return h("label", {}, radio, h("span", {}, label));
  });
  const amount = h("input", { type: "number", inputmode: "numeric", min: "1", step: "1", name: "amount" });
  const amountField = field("罚款金额（元）", amount);
  const bases = record.legalBases;
  const basis = h("select", { name: "basis" },
    h("option", { value: "" }, bases.length ? "请选择法律依据" : "本机没有法律依据数据"),
    bases.map((b) => h("option", { value: b.code }, `《${b.law}》${b.article}`)));
  const range = h("p", { class: "hint", role: "status" });
  const check = h("p", { class: "hint" });
  const type = () => types.map((l) => l.querySelector("input")).find((r) => r.checked)?.value;
  amount.addEventListener("input", update);
  basis.addEventListener("change", update);

  function update() {
    amountField.hidden = type() !== "fine";
    const chosen = basisOf(record, basis.value);
    const lines = [];
    if (chosen) {
      lines.push(`条文：${chosen.text || citation(chosen)}`);
      const allowed = (chosen.penalty_types || []).map((t) => ({ warning: "警告", fine: "罚款", suspend: "责令停产停业",
        detention: "行政拘留", order_correction: "责令改正" })[t] || t);
      if (allowed.length) lines.push(`该条规定的处罚：${allowed.join("、")}`);
      const fine = fineRange(chosen, day);
      if (type() === "fine") lines.push(fine ? `允许的罚款幅度：${fine.min}–${fine.max} 元（督查当日有效的裁量基准）` : "该条没有罚款幅度。");
    }
    range.replaceChildren(...lines.map((line) => h("span", { class: "block-line" }, line, h("br"))));
    check.textContent = "";
    check.className = "hint";
    if (type() === "fine" && amount.value === "") return;
    try {
      checkPenalty(record.assignment, currentPenalty(), bases, true);
      if (chosen) {
        check.textContent = "✓ 符合所选法律依据。";
        check.className = "success";
      }
    } catch (error) {
      check.textContent = messageOf(error);
      check.className = "error";
    }
  }
  const currentPenalty = () => ({ type: type(), amount: type() === "fine" ? amount.value : null, basisCode: basis.value || null });
  const add = button("添加处罚建议", async () => {
    const done = await busy(add, () => addPenalty(finding.uuid, currentPenalty()), errors);
    if (done) {
      changed();
      toast("已记录处罚建议。");
      app.redraw();
    }
  }, { class: "primary block" });
  update();
  return h("div", {},
    h("h3", {}, "提出处罚建议"),
    h("div", { class: "choices", role: "radiogroup", "aria-label": "处罚种类" }, types),
    amountField, field("法律依据", basis), range, check, errors, add);
}
