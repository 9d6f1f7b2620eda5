// Sync: push the outbox, upload the photos, pull the server's changes — the phone's twin of
// field_client/sync.py (DESIGN.md §5).
//
// Nothing is taken as done on hope. An operation becomes `done` only when a JSON answer names its
// op_id with status 200; 403/404/409/422 make it `failed` with the server's reason (it stays
// visible until a corrected resend or an amendment naming it is accepted); anything else (no
// answer, a captive portal's HTML page, a 5xx, an answer that leaves it out) leaves it `pending`
// for the next sync, and the server's idempotency on op_id turns a resend into the original
// result. The pull cursor moves in the same transaction that stores what it covers, and never
// beyond the server's head.
import {
  DROPPED_ENVELOPE_STATUSES, FieldError, REVEAL_TOLERANCE_KEY, database, deviceId, deviceTime, getMeta, nowUtc,
  photosNotUploaded, requestJson, setMeta,
  unsettledRefusals,
} from "./store.js";
import { ChunkSizer, markReceived, uploadPhoto } from "./uploads.js";

export const PUSH_BATCH = 500;
export const AUTO_SYNC_MS = 60_000;
const MAX_PULL_PAGES = 10_000;
const LOCK_NAME = "anfang-field-sync";
const PARALLEL_RECORD_NOTICE = "本任务组内另一台设备也提交了记录，已作为并行记录保存，由办公室核定以哪份为准。";
const FAILED_STATUSES = {
  403: "无权执行此操作", 404: "服务器上找不到相关记录", 409: "与服务器上已有的内容不一致", 422: "服务器认为数据无效",
};

// --- push --------------------------------------------------------------------------------------

/** The per-operation results by op_id, or null when the answer is not the contract's. */
function checkedResults(answer) {
  if (!answer || typeof answer !== "object" || !Array.isArray(answer.results)) return null;
  const results = new Map();
  for (const result of answer.results) {
    if (!(result && typeof result === "object" && typeof result.op_id === "string"
      && Number.isInteger(result.status))) return null;
    results.set(result.op_id, result);
  }
  return results;
}

/**
 * Once per pushed batch: a refused operation is settled by an accepted amendment that names it,
 * or else by the first accepted operation on the same record after it (its corrected resend).
 * The same rule as the CLI's SETTLE_REFUSALS statement.
 */
async function settleRefusals(outbox, moment) {
  const rows = await outbox.getAll();
  const done = rows.filter((row) => row.state === "done");
  const doneIds = new Set(done.map((row) => row.op_id));
  for (const row of rows) {
    if (row.state !== "failed" || row.settled_at) continue;
    const later = done.filter((other) => other.entity === row.entity && other.entity_id === row.entity_id
      && other.seq > row.seq).sort((a, b) => a.seq - b.seq)[0];
    if ((row.settled_by && doneIds.has(row.settled_by)) || later) {
      await outbox.put({ ...row, settled_by: row.settled_by ?? later.op_id, settled_at: moment });
    }
  }
}

/** Send the pending operations in the order they were made, in batches. */
export async function push({ batchSize = PUSH_BATCH, onProgress = null } = {}) {
  const outcome = {
    done: 0, refused: [], kept: 0, photosHeld: 0, notices: [], error: null, skewSeconds: null, skewFlagged: false,
  };
  const db = await database();
  const device = await deviceId();
  let after = 0;
  for (;;) {
    const pending = (await db.getAllFromIndex("outbox", "state", "pending"))
      .filter((row) => row.seq > after).sort((a, b) => a.seq - b.seq).slice(0, batchSize);
    if (!pending.length) return outcome;
    after = pending[pending.length - 1].seq;
    const body = {
      device_id: device, device_time: deviceTime(),
      operations: pending.map(({ op_id, entity, entity_id, payload, payload_sha256 }) => ({
        op_id, entity, entity_id, payload, payload_sha256,
      })),
    };
    let answer;
    try {
      answer = await requestJson("POST", "/api/v1/sync/push", { body });
    } catch (error) {
      outcome.error = error instanceof FieldError ? error.message : "无法连接服务器，本批记录仍待同步。";
      outcome.status = error?.status;
      return outcome;
    }
    const results = checkedResults(answer);
    if (!results) {
      outcome.error = "服务器对推送的回答格式不正确，本批记录仍待同步。";
      return outcome;
    }
    if (typeof answer.clock_skew_seconds === "number") outcome.skewSeconds = answer.clock_skew_seconds;
    if (answer.skew_flagged === true) outcome.skewFlagged = true;
    const moment = nowUtc();
    const held = [];
    const tx = db.transaction(["outbox", "uploads", "photos", "inspections"], "readwrite");
    const outbox = tx.objectStore("outbox");
    for (const row of pending) {
      const current = await outbox.get(row.seq);
      if (!current || current.state !== "pending") continue;
      const result = results.get(row.op_id);
      const status = result ? result.status : null;
      if (status === 200) {
        await outbox.put({
          ...current, state: "done", last_error: null, synced_at: moment,
          server_seq: Number.isInteger(result.server_seq) ? result.server_seq : null,
        });
        outcome.done += 1;
        if (row.entity === "inspection" && result.parallel_record === true) {
          // Another device of the team recorded this assignment first: this record is kept
          // beside it and the office decides which stands. The server words the notice.
          const notice = typeof result.notice === "string" && result.notice.trim() ? result.notice : PARALLEL_RECORD_NOTICE;
          if (!outcome.notices.includes(notice)) outcome.notices.push(notice);
          // Kept on the record as well: a background sync may be the one that hears it, and the
          // inspector must still learn it when opening the record later.
          const inspections = tx.objectStore("inspections");
          const inspection = await inspections.get(row.entity_id);
          if (inspection) await inspections.put({ ...inspection, parallel_notice: notice });
        }
        if (row.entity === "photo" && result.photo_received === true) {
          // The server holds these bytes already (same SHA-256): nothing to upload.
          const photo = await tx.objectStore("photos").get(row.entity_id);
          if (photo) held.push(photo);
        }
      } else if (Object.prototype.hasOwnProperty.call(FAILED_STATUSES, status)) {
        const detail = typeof result.detail === "string" && result.detail ? result.detail : FAILED_STATUSES[status];
        const reason = detail;
        await outbox.put({ ...current, state: "failed", last_error: reason, last_status: status, synced_at: moment });
        outcome.refused.push({ op_id: row.op_id, entity: row.entity, entity_id: row.entity_id, reason });
      } else {
        const note = result ? "服务器暂未处理" : "服务器的回答未包含此记录";
        await outbox.put({ ...current, last_error: `${note}，下次同步时重试。` });
        outcome.kept += 1;
      }
    }
    const uploads = tx.objectStore("uploads");
    for (const photo of held) {
      const state = (await uploads.get(photo.uuid)) ?? { photo_uuid: photo.uuid, upload_url: null };
      await uploads.put({ ...state, offset: photo.size, uploaded_at: moment, last_error: null, updated_at: moment });
    }
    await settleRefusals(outbox, moment);
    await tx.done;
    outcome.photosHeld += held.length;
    onProgress?.({ stage: "push", done: outcome.done, refused: outcome.refused.length });
  }
}

// --- photos ------------------------------------------------------------------------------------

/** Photos whose record the server has (its `photo` operation done) and whose bytes it has not. */
export async function photosReady() {
  const db = await database();
  const waiting = await photosNotUploaded();
  const ready = [];
  for (const photo of waiting) {
    const operations = await db.getAllFromIndex("outbox", "entity", ["photo", photo.uuid]);
    if (operations.some((operation) => operation.state === "done")) ready.push(photo);
  }
  return ready.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)) || a.uuid.localeCompare(b.uuid));
}

async function uploadReady({ onProgress, httpStack, retryDelays }) {
  const outcome = { uploaded: 0, error: null };
  const sizer = new ChunkSizer();
  const photos = await photosReady();
  for (const [index, photo] of photos.entries()) {
    try {
      await uploadPhoto(photo, {
        sizer, httpStack, retryDelays,
        onProgress: (sent, total) => onProgress?.({ stage: "photos", photo: photo.uuid, index, count: photos.length, sent, total }),
      });
      outcome.uploaded += 1;
    } catch (error) {
      outcome.error = error.message;
      // Out of reach or the login refused: the other photos would fare no better now.
      if (error.network) break;
    }
  }
  return outcome;
}

// --- pull --------------------------------------------------------------------------------------

function checkedPage(answer) {
  const bad = new FieldError("服务器对下载变化的回答格式不正确，未保存，进度未前移。");
  if (!answer || typeof answer !== "object" || !Array.isArray(answer.changes)) throw bad;
  if (!Number.isInteger(answer.cursor) || typeof answer.more !== "boolean") throw bad;
  for (const change of answer.changes) {
    if (!(change && typeof change === "object" && Number.isInteger(change.seq) && typeof change.entity === "string"
      && (typeof change.entity_id === "string" || Number.isInteger(change.entity_id))
      && (change.data == null || (typeof change.data === "object" && !Array.isArray(change.data))))) throw bad;
  }
  return answer;
}

async function applyChange(tx, change, moment) {
  const data = change.data || {};
  const entityId = String(change.entity_id);
  if (typeof data.status !== "string") return;
  if (change.entity === "inspection") {
    const store = tx.objectStore("inspections");
    const row = await store.get(entityId);
    if (row) await store.put({ ...row, server_status: data.status, server_status_at: moment });
  } else if (change.entity === "assignment") {
    const store = tx.objectStore("assignments");
    const row = /^\d+$/.test(entityId) ? await store.get(Number(entityId)) : await store.index("uuid").get(entityId);
    if (row) {
      const dropped = DROPPED_ENVELOPE_STATUSES.includes(data.status);
      await store.put({
        ...row, status: data.status, status_label: typeof data.status_label === "string" ? data.status_label : row.status_label,
        ...(dropped ? { envelope: null, key: null } : {}),
      });
    }
  }
}

/** Fetch changes after the local cursor, page by page; each page stored with its cursor. */
export async function pullChanges() {
  const db = await database();
  let cursor = (await getMeta("pull_cursor")) ?? 0;
  let total = 0;
  for (let page = 0; page < MAX_PULL_PAGES; page += 1) {
    const answer = checkedPage(await requestJson("GET", `/api/v1/sync/pull?cursor=${cursor}`));
    const next = answer.cursor;
    if (next < cursor) throw new FieldError(`服务器给出的进度（${next}）小于本机的（${cursor}），未保存。`);
    if (Number.isInteger(answer.head) && next > answer.head) {
      throw new FieldError(`服务器给出的进度（${next}）超过其当前的变化序号（${answer.head}），未保存。`);
    }
    const tolerance = answer.reveal_clock_tolerance_s;
    if (Number.isInteger(tolerance) && tolerance >= 0 && (await getMeta(REVEAL_TOLERANCE_KEY)) !== tolerance) {
      await setMeta({ [REVEAL_TOLERANCE_KEY]: tolerance });
    }
    if (answer.changes.length || next !== cursor) {
      const moment = nowUtc();
      const tx = db.transaction(["inspections", "assignments", "meta"], "readwrite");
      for (const change of answer.changes) await applyChange(tx, change, moment);
      // Same transaction: the cursor never passes changes that are not stored.
      await tx.objectStore("meta").put({ key: "pull_cursor", value: next });
      await tx.done;
    }
    total += answer.changes.length;
    if (!answer.more) return { changes: total, cursor: next };
    if (next === cursor && !answer.changes.length) {
      throw new FieldError("服务器表示还有变化，却没有给出新的内容，已停止下载。");
    }
    cursor = next;
  }
  return { changes: total, cursor };
}

// --- one sync at a time ------------------------------------------------------------------------

let running = null;

async function exclusively(fn) {
  // One sync per page, and (navigator.locks) one across the app's tabs: two would send the same
  // batch twice and race on the upload offsets.
  if (running) return { busy: true };
  const locks = globalThis.navigator?.locks;
  const work = locks && typeof locks.request === "function"
    ? locks.request(LOCK_NAME, { ifAvailable: true }, (lock) => (lock ? fn() : { busy: true }))
    : fn();
  running = work;
  try {
    return await work;
  } finally {
    running = null;
  }
}

function isOnline() {
  return globalThis.navigator?.onLine !== false;
}

/** What the status bar shows. */
export async function syncStatus() {
  const db = await database();
  const [pending, photos, refused, lastSyncAt] = await Promise.all([
    db.countFromIndex("outbox", "state", "pending"), photosNotUploaded(), unsettledRefusals(), getMeta("last_sync_at"),
  ]);
  return { pendingOps: pending, pendingPhotos: photos.length, refused: refused.length, lastSyncAt: lastSyncAt ?? null,
    online: isOnline() };
}

/**
 * Push, upload the photos, pull. Never two at once: a second call while one runs returns
 * `{busy: true, error}` at once.
 */
export async function syncNow({ onProgress = null, httpStack = null, retryDelays = undefined } = {}) {
  const outcome = await exclusively(async () => {
    const result = { pushed: 0, refused: [], photosUploaded: 0, photosHeld: 0, pulled: 0, notices: [] };
    const pushed = await push({ onProgress });
    result.pushed = pushed.done;
    result.notices = pushed.notices;
    result.refused = pushed.refused;
    result.photosHeld = pushed.photosHeld;
    if (pushed.skewFlagged) result.clockSkewSeconds = pushed.skewSeconds;
    if (pushed.error) {
      result.error = pushed.error;
      return result;
    }
    const photos = await uploadReady({ onProgress, httpStack, retryDelays });
    result.photosUploaded = photos.uploaded;
    try {
      onProgress?.({ stage: "pull" });
      result.pulled = (await pullChanges()).changes;
    } catch (error) {
      result.error = error instanceof FieldError ? error.message : "下载服务器变化失败，下次同步时重试。";
    }
    if (photos.error && !result.error) result.error = photos.error;
    if (!result.error) await setMeta({ last_sync_at: nowUtc() });
    return result;
  });
  if (outcome.busy) {
    return { pushed: 0, refused: [], photosUploaded: 0, photosHeld: 0, pulled: 0, notices: [], busy: true,
      error: "另一处同步正在进行，请稍候。" };
  }
  return outcome;
}

/** Sync on start, when the phone comes online, and every minute while online. */
export function startAutoSync({ onChange = null, intervalMs = AUTO_SYNC_MS } = {}) {
  let stopped = false;
  const run = async () => {
    if (stopped || !isOnline()) return;
    try {
      const result = await syncNow();
      if (!stopped && !result.busy) onChange?.(result);
    } catch (error) {
      if (!stopped) onChange?.({ error: error instanceof FieldError ? error.message : "同步失败，稍后自动重试。" });
    }
  };
  const target = typeof globalThis.addEventListener === "function" ? globalThis : null;
  target?.addEventListener("online", run);
  const timer = setInterval(run, intervalMs);
  run();
  return function stop() {
    stopped = true;
    clearInterval(timer);
    target?.removeEventListener("online", run);
  };
}
