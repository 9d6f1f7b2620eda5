// 签字: the record's summary first, then each team member present and the venue's person in
// charge sign on the screen (signature_pad, kept as a PNG), with 重签; or the person refuses
// (拒绝签字) and the team writes down who witnessed it.
import SignaturePad from "signature_pad";
import { SIGNATURE_ROLES, addSignature } from "../fieldwork.js";
import { blobUrl, busy, button, dateTime, errorBox, field, h, section, toast } from "../ui.js";
import { backLink, changed, isSubmitted, loadRecord, notStarted, recordSummary } from "./common.js";

const PAD_HEIGHT = 200;

export async function signScreen(view, { params, app }) {
  const [id] = params;
  const record = await loadRecord(id);
  if (!record.inspection) return notStarted(view, id);
  const readOnly = isSubmitted(record);
  view.append(backLink(`#/a/${id}`, "返回记录"), h("h2", {}, "签字"),
    h("p", { class: "muted" }, "请先让签字人阅读以下摘要，再在签名区内手写签名。"),
    recordSummary(record, "请核对记录"));
  view.append(section(`已签字（${record.signatures.length} 人）`, record.signatures.length
    ? h("ul", { class: "list" }, record.signatures.map(signatureEntry))
    : h("p", { class: "muted" }, "还没有人签字。")));
  if (readOnly) return;
  const signedInspectors = new Set(record.signatures.filter((s) => s.role === "inspector").map((s) => s.signer_name));
  for (const member of record.assignment.members || []) {
    if (signedInspectors.has(member.display_name)) continue;
    view.append(signCard(record, app, { role: "inspector", name: member.display_name,
      title: `督查人员：${member.display_name}${member.is_leader ? "（组长）" : ""}`, mayRefuse: false }));
  }
  if (!record.signatures.some((s) => s.role === "venue_person")) {
    view.append(signCard(record, app, { role: "venue_person", name: "", title: "被检查场所负责人", mayRefuse: true }));
  }
}

function signatureEntry(signature) {
  return h("li", { class: "card" },
    h("p", {}, h("strong", {}, `${SIGNATURE_ROLES[signature.role] || signature.role}：${signature.signer_name}`),
      h("span", { class: "muted" }, ` · ${dateTime(signature.signed_at)}`)),
    signature.refused
      ? h("p", { class: "flag" }, `拒绝签字。见证情况：${signature.witness_note}`)
      : signature.png ? h("img", { class: "signed-image", src: blobUrl(signature.png), alt: `${signature.signer_name}的签名` }) : null);
}

function signCard(record, app, { role, name, title, mayRefuse }) {
  const errors = errorBox();
  const nameInput = h("input", { type: "text", name: "signer", autocomplete: "off", maxlength: "64", value: name });
  const canvas = h("canvas", { role: "img", "aria-label": `${title}的签名区，请在此手写签名` });
  const wrap = h("div", { class: "pad-wrap" }, canvas);
  let pad = null;
  const fit = () => {
    // Drawn at up to twice the CSS size: sharp enough for the PDF, small enough to send.
    const ratio = Math.min(window.devicePixelRatio || 1, 2);
    const width = canvas.clientWidth || 300;
    const data = pad && !pad.isEmpty() ? pad.toData() : null;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(PAD_HEIGHT * ratio);
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    if (data) pad.fromData(data);
  };
  app.afterMount(() => {
    pad = new SignaturePad(canvas, { backgroundColor: "rgb(255,255,255)", penColor: "rgb(10,10,10)", minWidth: 1, maxWidth: 3 });
    fit();
    window.addEventListener("resize", () => canvas.isConnected && fit());
  });
  const refuse = mayRefuse ? h("input", { type: "checkbox", name: "refused" }) : null;
  const witness = h("textarea", { name: "witness", rows: "3", placeholder: "如：当事人拒绝签字，由督查组两名成员及在场保安张某见证。" });
  const witnessField = field("见证情况（拒绝签字时必填）", witness);
  witnessField.hidden = true;
  refuse?.addEventListener("change", () => {
    witnessField.hidden = !refuse.checked;
    wrap.hidden = refuse.checked;
    again.hidden = refuse.checked;
    confirm.textContent = refuse.checked ? "记录拒绝签字" : "确认签字";
  });
  const again = button("重签", () => pad?.clear(), { class: "secondary" });
  const confirm = button("确认签字", async () => {
    const refused = Boolean(refuse?.checked);
    const done = await busy(confirm, async () => {
      if (!nameInput.value.trim()) throw new Error("请填写签字人姓名。");
      if (refused && !witness.value.trim()) throw new Error("拒绝签字时，须写明见证情况。");
      let png = null;
      if (!refused) {
        if (!pad || pad.isEmpty()) throw new Error("请在签名区内签名。");
        png = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
      }
      return addSignature(record.inspection.uuid, { role, signerName: nameInput.value, png, refused,
        witnessNote: refused ? witness.value : null });
    }, errors);
    if (done) {
      changed();
      toast(refused ? "已记录拒绝签字。" : "已签字。");
      app.redraw();
    }
  }, { class: "primary" });
  return section(title,
    field("签字人姓名", nameInput),
    refuse ? h("label", { class: "check" }, refuse, h("span", {}, "拒绝签字")) : null,
    h("p", { class: "label" }, "签名区"), wrap, witnessField, errors,
    h("div", { class: "actions" }, again, confirm));
}
