// The phone's local store: one IndexedDB database, "anfang-field" (DESIGN.md §5).
//
// Durability first, as in the command-line client (field_client/store.py): every change is
// written together with its outbox operation in ONE IndexedDB transaction (`Change.commit()`), so
// the outbox can never miss a change nor carry one that did not happen. Payloads are exactly the
// CLI's (same keys, same entity names, same canonical JSON hash), so the server cannot tell the
// two clients apart.
//
// IndexedDB commits a transaction by itself as soon as it has no request pending at the end of a
// task: awaiting anything else inside it (crypto.subtle, a Blob read) would end it early. So a
// change is described first (rows, steps, operations), every hash is computed, and only then is
// the transaction opened and run with nothing but IndexedDB requests inside.
import { openDB, deleteDB } from "idb";
import { canonicalJson, sha256Hex } from "./digest.js";

export const DB_NAME = "anfang-field";
export const DB_VERSION = 1;

// Every object store, with its key and indexes. Version 1 is the whole schema; a later version
// adds an entry to UPGRADES, never edits this one (phones keep their data across app updates).
const UPGRADES = [
  (db) => {
    db.createObjectStore("config", { keyPath: "key" });
    db.createObjectStore("meta", { keyPath: "key" });
    const assignments = db.createObjectStore("assignments", { keyPath: "id" });
    assignments.createIndex("uuid", "uuid", { unique: true });
    db.createObjectStore("rules", { keyPath: "id" });
    const bases = db.createObjectStore("legal_bases", { keyPath: "code" });
    bases.createIndex("provision", "provision");
    const inspections = db.createObjectStore("inspections", { keyPath: "uuid" });
    inspections.createIndex("assignment_uuid", "assignment_uuid", { unique: true });
    const observations = db.createObjectStore("observations", { keyPath: ["inspection_uuid", "item_code"] });
    observations.createIndex("inspection_uuid", "inspection_uuid");
    for (const name of ["findings", "photos", "notes", "signatures", "amendments"]) {
      db.createObjectStore(name, { keyPath: "uuid" }).createIndex("inspection_uuid", "inspection_uuid");
    }
    const penalties = db.createObjectStore("penalties", { keyPath: "uuid" });
    penalties.createIndex("finding_uuid", "finding_uuid");
    penalties.createIndex("inspection_uuid", "inspection_uuid");
    const outbox = db.createObjectStore("outbox", { keyPath: "seq", autoIncrement: true });
    outbox.createIndex("op_id", "op_id", { unique: true });
    outbox.createIndex("state", "state");
    outbox.createIndex("entity", ["entity", "entity_id"]);
    db.createObjectStore("uploads", { keyPath: "photo_uuid" });
  },
];

/** An error the screens show as it is: its message is Chinese, meant for the inspector. */
export class FieldError extends Error {
  constructor(message, { cause, status } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = "FieldError";
    if (status !== undefined) this.status = status;
  }
}

let opening = null;

/** The open database (opened once per page; reopened after `closeDatabase`). */
export function database() {
  if (!opening) {
    opening = openDB(DB_NAME, DB_VERSION, {
      upgrade(db, oldVersion) {
        for (let version = oldVersion; version < UPGRADES.length; version += 1) UPGRADES[version](db);
      },
      blocking() {
        // Another tab wants a newer version (or to delete the database at logout): let it.
        closeDatabase();
      },
    }).catch((error) => {
      opening = null;
      throw new FieldError("无法打开本机数据库（浏览器可能禁用了存储或处于隐私模式）。", { cause: error });
    });
  }
  return opening;
}

export async function closeDatabase() {
  const pending = opening;
  opening = null;
  if (pending) {
    try {
      (await pending).close();
    } catch {
      // It never opened: nothing to close.
    }
  }
}

/** Delete the whole local store (logout). */
export async function wipeDatabase() {
  await closeDatabase();
  await deleteDB(DB_NAME);
}

// --- time, ids ---------------------------------------------------------------------------------

/** UTC now as Python's `datetime.now(UTC).isoformat(timespec="seconds")` writes it. */
export function nowUtc(date = new Date()) {
  return `${date.toISOString().slice(0, 19)}+00:00`;
}

/** The device's clock with its UTC offset (recorded by the server, never used for ordering). */
export function deviceTime(date = new Date()) {
  const offset = -date.getTimezoneOffset();
  const local = new Date(date.getTime() + offset * 60_000).toISOString().slice(0, 19);
  const sign = offset >= 0 ? "+" : "-";
  const hours = String(Math.floor(Math.abs(offset) / 60)).padStart(2, "0");
  const minutes = String(Math.abs(offset) % 60).padStart(2, "0");
  return `${local}${sign}${hours}:${minutes}`;
}

export function newUuid() {
  return crypto.randomUUID();
}

/** Hex SHA-256 of a payload's canonical JSON: what the server recomputes and compares. */
export async function payloadSha256(payload) {
  return sha256Hex(new TextEncoder().encode(canonicalJson(payload)));
}

// --- changes -----------------------------------------------------------------------------------

/**
 * One write transaction: rows and their outbox operations, committed together or not at all.
 *
 *   const change = new Change();
 *   change.put("notes", row);
 *   change.enqueue("note", row.uuid, payload);
 *   await change.commit();
 *
 * `step(stores, fn)` runs `fn(tx)` inside the transaction, in order with the puts; it may only
 * await IndexedDB requests of `tx`, and throwing (a FieldError for a guard) aborts everything.
 */
export class Change {
  constructor() {
    this.actions = [];
    this.stores = new Set();
    this.operations = [];
  }

  put(store, row) {
    this.stores.add(store);
    this.actions.push({ kind: "put", store, row });
    return this;
  }

  delete(store, key) {
    this.stores.add(store);
    this.actions.push({ kind: "delete", store, key });
    return this;
  }

  step(stores, fn) {
    for (const store of [].concat(stores)) this.stores.add(store);
    this.actions.push({ kind: "step", fn });
    return this;
  }

  /** Queue an operation for the server; returns its op_id (known before the commit). */
  enqueue(entity, entityId, payload) {
    const operation = { op_id: newUuid(), entity, entity_id: String(entityId), payload };
    this.operations.push(operation);
    this.actions.push({ kind: "enqueue", operation });
    this.stores.add("outbox");
    return operation.op_id;
  }

  async commit() {
    const createdAt = nowUtc();
    for (const operation of this.operations) {
      // Canonical JSON refuses what JSON cannot carry (NaN, undefined): better here than at the server.
      operation.payload_sha256 = await payloadSha256(operation.payload);
    }
    const db = await database();
    const tx = db.transaction([...this.stores], "readwrite");
    try {
      for (const action of this.actions) {
        if (action.kind === "put") await tx.objectStore(action.store).put(action.row);
        else if (action.kind === "delete") await tx.objectStore(action.store).delete(action.key);
        else if (action.kind === "step") await action.fn(tx);
        else {
          const { op_id, entity, entity_id, payload, payload_sha256 } = action.operation;
          await tx.objectStore("outbox").add({
            op_id, entity, entity_id, payload, payload_sha256, created_at: createdAt, state: "pending",
            last_error: null, server_seq: null, synced_at: null, settled_by: null, settled_at: null,
          });
        }
      }
      await tx.done;
    } catch (error) {
      try {
        tx.abort();
      } catch {
        // Already aborted by the failed request.
      }
      await tx.done.catch(() => {});
      if (error instanceof FieldError) throw error;
      throw new FieldError("本机保存失败，未做任何更改，请重试。", { cause: error });
    }
    return this.operations.map((operation) => operation.op_id);
  }
}

// --- small readers -----------------------------------------------------------------------------

export async function getConfig(key) {
  const row = await (await database()).get("config", key);
  return row ? row.value : null;
}

export async function setConfig(values) {
  const db = await database();
  const tx = db.transaction("config", "readwrite");
  for (const [key, value] of Object.entries(values)) tx.store.put({ key, value });
  await tx.done;
}

// The server serves no envelope of an assignment that will not be visited; the phone drops its
// copy (and any key) when it hears of either status, by the assignment list or the change pull.
export const DROPPED_ENVELOPE_STATUSES = ["cancelled", "expired"];
// The offline reveal clock tolerance (seconds) the server's change pull last gave (meta key).
export const REVEAL_TOLERANCE_KEY = "reveal_clock_tolerance_s";

export async function getMeta(key) {
  const row = await (await database()).get("meta", key);
  return row ? row.value : null;
}

export async function setMeta(values) {
  const db = await database();
  const tx = db.transaction("meta", "readwrite");
  for (const [key, value] of Object.entries(values)) tx.store.put({ key, value });
  await tx.done;
}

/** This device's UUID, made the first time it is asked for and kept. */
export async function deviceId() {
  const db = await database();
  const tx = db.transaction("config", "readwrite");
  const held = await tx.store.get("device_id");
  let value = held ? held.value : null;
  if (!value) {
    value = newUuid();
    await tx.store.put({ key: "device_id", value });
  }
  await tx.done;
  return value;
}

export async function allByIndex(store, index, key) {
  return (await database()).getAllFromIndex(store, index, key);
}

/** Outbox operations not yet accepted, in the order they must be pushed. */
export async function pendingOperations() {
  const rows = await (await database()).getAllFromIndex("outbox", "state", "pending");
  return rows.sort((a, b) => a.seq - b.seq);
}

/** Refused operations that neither a corrected resend nor an amendment has settled yet. */
export async function unsettledRefusals() {
  const rows = await (await database()).getAllFromIndex("outbox", "state", "failed");
  return rows.filter((row) => !row.settled_at).sort((a, b) => a.seq - b.seq);
}

/** Photos whose bytes the server does not hold yet. */
export async function photosNotUploaded() {
  const db = await database();
  const [photos, uploads] = await Promise.all([db.getAll("photos"), db.getAll("uploads")]);
  const done = new Set(uploads.filter((upload) => upload.uploaded_at).map((upload) => upload.photo_uuid));
  return photos.filter((photo) => !done.has(photo.uuid));
}

// --- server address and requests ---------------------------------------------------------------

let serverBase = null;

/** Where the server is: the page's own origin (the app is served at /field/), or set by tests. */
export function setServerBase(url) {
  serverBase = url ? url.replace(/\/+$/, "") : null;
}

export function apiUrl(path) {
  const base = serverBase ?? globalThis.location?.origin ?? "";
  return `${base}${path}`;
}

function isJson(response) {
  const type = (response.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
  return type === "application/json" || type.endsWith("+json");
}

/**
 * A JSON request to the server; FieldError (Chinese) for anything but a JSON answer.
 *
 * Hotel and village Wi-Fi answer any request with a 200 HTML login page: only JSON counts, so
 * nothing is taken as done that never reached the server.
 */
export async function requestJson(method, path, { body, token, auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const bearer = token ?? (auth ? await getConfig("token") : null);
  if (auth && !bearer) throw new FieldError("尚未登录，请先登录。", { status: 401 });
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch(apiUrl(path), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit",
    });
  } catch (error) {
    throw new FieldError("无法连接服务器，请检查网络后重试。", { cause: error, status: 0 });
  }
  let answer = null;
  let parsed = false;
  if (isJson(response)) {
    try {
      answer = await response.json();
      parsed = true;
    } catch {
      parsed = false;
    }
  }
  if (!response.ok) {
    const detail = parsed && answer && typeof answer === "object" ? answer.detail || answer.title : null;
    if (response.status === 401) {
      throw new FieldError(`登录已失效，请重新登录${detail ? `（${detail}）` : ""}。`, { status: 401 });
    }
    const fallback = response.status >= 500 ? "服务器暂时无法处理，请稍后再试" : "请求未被接受";
    throw new FieldError(`服务器拒绝：${detail || fallback}。`, { status: response.status });
  }
  if (!parsed) {
    throw new FieldError("服务器的回答不是预期的数据（可能连上了需要登录的公共 Wi-Fi 页面），本次未做任何更改。",
      { status: response.status });
  }
  return answer;
}
