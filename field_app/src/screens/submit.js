// 提交: the record's summary, what is still missing, and a confirmation dialog. After submission
// the record is read-only on the phone; corrections are amendments (更正).
import { submit } from "../fieldwork.js";
import { busy, button, confirmDialog, errorBox, h, section, toast } from "../ui.js";
import { backLink, changed, isSubmitted, loadRecord, notStarted, recordSummary, violations } from "./common.js";

export async function submitScreen(view, { params, app }) {
  const [id] = params;
  const record = await loadRecord(id);
  if (!record.inspection) return notStarted(view, id);
  view.append(backLink(`#/a/${id}`, "返回记录"), h("h2", {}, "提交记录"));
  if (isSubmitted(record)) {
    view.append(h("p", { class: "success" }, "该记录已提交。"), recordSummary(record));
    return;
  }
  const warnings = [];
  const incomplete = record.results.filter((r) => r.verdict === "incomplete").map((r) => r.code);
  if (incomplete.length) warnings.push(`检查项未填完：${incomplete.join("、")}`);
  const members = record.assignment.members || [];
  const inspectorsSigned = record.signatures.filter((s) => s.role === "inspector").length;
  if (inspectorsSigned < members.length) warnings.push(`督查人员已签字 ${inspectorsSigned}/${members.length} 人`);
  if (!record.signatures.some((s) => s.role === "venue_person")) warnings.push("场所负责人尚未签字（或记录拒绝签字）");
  const found = violations(record);
  if (found.length && !record.photos.length) warnings.push("发现问题但没有照片");
  view.append(recordSummary(record, "提交前请核对"));
  if (warnings.length) {
    view.append(section("请注意", h("ul", { class: "summary-list" }, warnings.map((w) => h("li", {}, w))),
      h("p", { class: "muted" }, "以上情况不妨碍提交，但提交后只能以更正方式补充。")));
  }
  const errors = errorBox();
  const go = button("提交", async () => {
    const ok = await confirmDialog({
      title: "确认提交督查记录？",
      body: [h("p", {}, `${record.target.name}：问题 ${found.length} 项，照片 ${record.photos.length} 张，处罚建议 ${record.penalties.length} 项，签字 ${record.signatures.length} 人。`),
        h("p", {}, "提交后记录不能再修改，如需更正须写明原因。联网后自动同步到服务器。")],
      ok: "确认提交", cancel: "再检查一下",
    });
    if (!ok) return;
    const done = await busy(go, () => submit(record.inspection.uuid), errors);
    if (done) {
      changed();
      toast("已提交，联网后同步到服务器。");
      location.hash = `#/a/${id}`;
    }
  }, { class: "primary block" });
  view.append(errors, h("div", { class: "actions" }, go));
}
