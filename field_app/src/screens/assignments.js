// 任务列表: the team's assignments on this phone, 拉取任务 from the server, and 退出登录.
import { listAssignments, pull } from "../fieldwork.js";
import { logout } from "../session.js";
import { busy, button, confirmDialog, day, errorBox, go, h, messageOf, section, toast, windowText } from "../ui.js";
import { recordStatusBadge } from "./common.js";

export async function assignmentsScreen(view, { app }) {
  const assignments = await listAssignments();
  const errors = errorBox();
  const pullButton = button("拉取任务", async () => {
    const result = await busy(pullButton, () => pull(), errors);
    if (result) {
      toast(`已拉取 ${result.assignments} 项任务。`);
      window.dispatchEvent(new Event("anfang:changed"));
      app.redraw();
    }
  }, { class: "primary" });

  view.append(
    h("h2", {}, "任务列表"),
    h("p", { class: "muted" }, `${app.user.display_name}（${app.user.username}）`),
    h("div", { class: "actions" }, pullButton),
    errors,
    assignments.length
      ? h("ul", { class: "list", "aria-label": "任务" }, assignments.map((a) => h("li", {}, taskCard(a))))
      : h("p", { class: "card" }, "本机还没有任务。联网时点“拉取任务”下载本组的密封任务。"),
    section("账号",
      h("p", { class: "muted" }, "退出登录会删除本机保存的全部任务和记录。"),
      h("div", { class: "actions" }, button("退出登录", (event) => signOut(event.currentTarget), { class: "secondary" }))),
  );
}

function taskCard(a) {
  const title = a.revealed && a.target ? a.target.name : `密封任务 ${a.id}`;
  return h("a", { class: "task", href: `#/a/${a.id}` },
    h("span", { class: "task-title" }, h("span", {}, title), h("span", { class: "badge" }, a.status_label || a.status)),
    h("span", { class: "muted" }, `日期：${a.visit_date ? day(a.visit_date) : "—"}`), h("br"),
    h("span", { class: "muted" }, `时间窗口：${windowText(a.window_start, a.window_end)}`), h("br"),
    a.meeting_point ? [h("span", { class: "muted" }, `集合地点：${a.meeting_point}`), h("br")] : null,
    h("span", {}, "本机记录：", recordStatusBadge(a)));
}

/** 退出登录: refused while work is not on the server, unless the inspector confirms twice. */
async function signOut(trigger) {
  try {
    await logout();
  } catch (error) {
    if (error?.name !== "UnsyncedWorkError") {
      toast(messageOf(error), "error");
      return;
    }
    const first = await confirmDialog({
      title: "还有未同步的内容",
      body: [h("p", {}, error.message), h("p", {}, "建议先联网点“立即同步”。")],
      ok: "仍要退出", cancel: "先不退出", danger: true,
    });
    if (!first) return;
    const second = await confirmDialog({
      title: "再次确认：删除未同步的记录",
      body: [h("p", { class: "error" }, "退出后，这些记录和照片将从本机永久删除，无法恢复。")],
      ok: "删除并退出", cancel: "取消", danger: true,
    });
    if (!second) return;
    trigger.disabled = true;
    try {
      await logout({ force: true });
    } catch (forced) {
      trigger.disabled = false;
      toast(messageOf(forced), "error");
      return;
    }
  }
  toast("已退出登录。");
  go("#/login");
}
