// The phone app's entry point: registers the service worker, asks for persistent storage, keeps
// the sync indicator in the header current and draws the screen the location hash names
// (#/login, #/assignments, #/a/ID, …), so a reload lands where the inspector was.
import { currentUser } from "./session.js";
import { startAutoSync, syncNow, syncStatus } from "./sync.js";
import { clear, clock, go, h, messageOf, revokeUrls, toast } from "./ui.js";
import { loginScreen } from "./screens/login.js";
import { assignmentsScreen } from "./screens/assignments.js";
import { assignmentScreen } from "./screens/assignment.js";
import { checklistScreen } from "./screens/checklist.js";
import { findingScreen, findingsScreen } from "./screens/findings.js";
import { notesScreen } from "./screens/notes.js";
import { signScreen } from "./screens/sign.js";
import { submitScreen } from "./screens/submit.js";
import { amendScreen } from "./screens/amend.js";
import { refusedScreen } from "./screens/refused.js";

if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js", { scope: "./" });
// Offline use (the service worker) and the browser's crypto (reveal, photo hashes) exist only in
// a secure context: https://, or localhost. Elsewhere the inspector is told why before trying.
if (!window.isSecureContext || !globalThis.crypto?.subtle) {
  const warning = document.getElementById("insecure");
  warning.hidden = false;
}
// Ask the browser not to evict the records and photos kept offline (a phone low on space would
// otherwise clear them before they reach the server).
if (navigator.storage?.persist) {
  navigator.storage.persisted().then((held) => held || navigator.storage.persist()).catch(() => {});
}

// Screens that only show data may be redrawn after a sync; the others keep what is being typed.
const ROUTES = [
  { pattern: /^\/login$/, screen: loginScreen, open: true },
  { pattern: /^\/assignments$/, screen: assignmentsScreen, redraw: true },
  { pattern: /^\/a\/([^/]+)$/, screen: assignmentScreen, redraw: true },
  { pattern: /^\/a\/([^/]+)\/check$/, screen: checklistScreen },
  { pattern: /^\/a\/([^/]+)\/findings$/, screen: findingsScreen, redraw: true },
  { pattern: /^\/a\/([^/]+)\/f\/([^/]+)$/, screen: findingScreen },
  { pattern: /^\/a\/([^/]+)\/notes$/, screen: notesScreen },
  { pattern: /^\/a\/([^/]+)\/sign$/, screen: signScreen },
  { pattern: /^\/a\/([^/]+)\/submit$/, screen: submitScreen, redraw: true },
  { pattern: /^\/a\/([^/]+)\/amend$/, screen: amendScreen },
  { pattern: /^\/refused$/, screen: refusedScreen, redraw: true },
];

const root = document.getElementById("app");
const syncBar = document.getElementById("sync-bar");
const indicator = document.getElementById("sync-indicator");
const refusedLink = document.getElementById("refused-link");
const syncButton = document.getElementById("sync-now");

let drawing = 0;
let current = null;
let stopAutoSync = null;
let syncing = false;
// What the screen shown asks to finish before another replaces it (a checklist's last save).
let leaveHook = null;

function parseHash() {
  const raw = decodeURIComponent(location.hash.replace(/^#/, "")) || "/assignments";
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search) };
}

async function draw({ keepScroll = false } = {}) {
  const ticket = ++drawing;
  if (leaveHook) {
    const hook = leaveHook;
    leaveHook = null;
    try {
      await hook();
    } catch {
      // The screen showed its own error; the next one still opens.
    }
  }
  const { path, query } = parseHash();
  const route = ROUTES.find((r) => r.pattern.test(path));
  if (!route) {
    go("#/assignments");
    return;
  }
  let user = null;
  try {
    user = await currentUser();
  } catch (error) {
    user = null;
  }
  if (!user && !route.open) {
    go("#/login");
    return;
  }
  if (user && route.open) {
    go("#/assignments");
    return;
  }
  syncBar.hidden = !user;
  if (user) {
    if (!stopAutoSync) stopAutoSync = startAutoSync({ onChange: autoSynced });
    refreshSync();
  } else if (stopAutoSync) {
    stopAutoSync();
    stopAutoSync = null;
  }
  const params = path.match(route.pattern).slice(1);
  const view = h("div", { class: "view" });
  const mounted = [];
  const app = {
    user, refreshSync, redraw: () => draw(), isCurrent: () => ticket === drawing,
    set onLeave(hook) { leaveHook = hook; },
    // Work that needs the screen on the page (a canvas measures its width).
    afterMount: (fn) => mounted.push(fn),
  };
  try {
    await route.screen(view, { params, query, app });
  } catch (error) {
    clear(view).append(h("p", { class: "error", role: "alert" }, messageOf(error)),
      h("p", {}, h("a", { class: "btn", href: "#/assignments" }, "返回任务列表")));
  }
  if (ticket !== drawing) return;  // the inspector moved on while this screen was loading
  revokeUrls();
  current = route;
  root.replaceChildren(view);
  for (const fn of mounted) fn();
  const heading = view.querySelector("h1, h2");
  if (heading) {
    document.title = `${heading.textContent} · 暗访现场`;
    if (window.scrollY > 0 && !keepScroll) window.scrollTo(0, 0);
  }
}

/** The header's line: 待同步 N 项 · 照片 M 张 · 上次同步 HH:MM, 离线, and 被拒 N 项. */
async function refreshSync() {
  let status;
  try {
    status = await syncStatus();
  } catch {
    return;
  }
  const line = `待同步 ${status.pendingOps} 项 · 照片 ${status.pendingPhotos} 张 · 上次同步 ${status.lastSyncAt ? clock(status.lastSyncAt) : "尚未同步"}`;
  indicator.replaceChildren(...(status.online ? [] : [h("span", { class: "offline" }, "离线")]), line);
  refusedLink.hidden = !status.refused;
  refusedLink.textContent = status.refused ? `被拒 ${status.refused} 项` : "被拒操作";
  if (!syncing) syncButton.disabled = false;
}

syncButton.addEventListener("click", async () => {
  if (syncing) return;
  syncing = true;
  syncButton.disabled = true;
  syncButton.textContent = "同步中…";
  try {
    const result = await syncNow({ onProgress: showProgress });
    toast(summaryOf(result), result.error ? "error" : "info", { long: Boolean(result.notices?.length) });
    if (current?.redraw) draw({ keepScroll: true });
  } catch (error) {
    toast(messageOf(error), "error");
  } finally {
    syncing = false;
    syncButton.textContent = "立即同步";
    syncButton.disabled = false;
    refreshSync();
  }
});

function showProgress(progress) {
  if (progress?.stage === "push") indicator.textContent = `正在推送记录…已完成 ${progress.done} 项`;
  else if (progress?.stage === "photos") {
    const percent = progress.total ? Math.floor((progress.sent / progress.total) * 100) : 0;
    indicator.textContent = `正在上传照片 ${progress.index + 1}/${progress.count}（${percent}%）`;
  } else if (progress?.stage === "pull") indicator.textContent = "正在下载服务器的变化…";
}

function summaryOf(result) {
  if (!result || typeof result !== "object") return "同步完成。";
  const parts = [`推送 ${result.pushed || 0} 项`, `上传照片 ${result.photosUploaded || 0} 张`, `下载变化 ${result.pulled || 0} 项`];
  if (result.refused?.length) parts.push(`被拒 ${result.refused.length} 项`);
  // What the server asks the inspector to know (a parallel record) comes first: it is news.
  const notices = (result.notices || []).join(" ");
  if (result.error) return `${notices ? `${notices} ` : ""}同步未全部完成：${result.error}（${parts.join("，")}）`;
  return `${notices ? `${notices} ` : ""}同步完成：${parts.join("，")}。`;
}

/** After a background sync: the header, and the screen when it only shows data and data came. */
function autoSynced(result) {
  refreshSync();
  // A background sync says nothing as a rule, but the server's notices are for the inspector.
  if (result?.notices?.length) toast(result.notices.join(" "), "info", { long: true });
  const moved = result && (result.pushed || result.photosUploaded || result.pulled);
  const typing = document.activeElement?.matches?.("input, textarea, select");
  if (moved && current?.redraw && !typing && !document.querySelector("dialog[open]")) draw({ keepScroll: true });
}

window.addEventListener("hashchange", draw);
// Controls that need the network (联网揭封) show only while the phone is online.
function onlineChanged() {
  for (const el of document.querySelectorAll("[data-online-only]")) el.hidden = !navigator.onLine;
  refreshSync();
}
window.addEventListener("online", onlineChanged);
window.addEventListener("offline", onlineChanged);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refreshSync();
});
// Screens announce their changes (a photo added, a record submitted) so the count stays right.
window.addEventListener("anfang:changed", () => refreshSync());

draw();
