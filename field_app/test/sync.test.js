// Sync with the server mocked: per-operation results (200/409/422/none), answers that are not
// the contract's, photos the server already holds, refusals settled by an amendment or a
// corrected resend, the pull cursor never beyond the head, one sync at a time, and photo uploads
// by tus that adapt their chunk size and resume after a cut or a closed page.
import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { beforeEach, test } from "node:test";
import { database, getMeta, setServerBase, wipeDatabase } from "../src/store.js";
import {
  addNote, addPhoto, amend, checkIn, pull, recordObservations, refusedOperations, revealWithCode, submit,
} from "../src/fieldwork.js";
import { login } from "../src/session.js";
import { pullChanges, push, syncNow, syncStatus } from "../src/sync.js";
import { CHUNK_START, ChunkSizer } from "../src/uploads.js";

const ENVELOPE = JSON.parse(readFileSync(new URL("./fixtures/envelope.json", import.meta.url), "utf8"));
const JPEG = readFileSync(new URL("./fixtures/gps.jpg", import.meta.url));
const RULES = [{
  code: "K3", title: "接待人数不超过核定人数的50%", categories: ["ktv"],
  items: [{ code: "k3_visitors", prompt: "现场接待人数（人）", value_type: "integer" }],
  checks: [{ code: "k3_half", description: "接待人数不超过核定人数的50%",
    expression: { "<=": [{ var: "obs.k3_visitors" }, { "*": [{ var: "venue.approved_capacity" }, "1/2"] }] } }],
}];
const ASSIGNMENT = {
  id: 11, uuid: ENVELOPE.assignment_uuid, status: "dispatched", status_label: "已派发", visit_date: "2026-12-03",
  window_start: null, window_end: null, meeting_point: null, may_propose_penalties: true, members: [],
  envelope: ENVELOPE.envelope_b64,
};

function json(value, status = 200) {
  return new Response(JSON.stringify(value), { status, headers: { "Content-Type": "application/json" } });
}

/**
 * The server: JSON routes plus a tus endpoint. `answer(body)` decides a push: a Response, a
 * result for every operation, or a function giving each operation's result (null: left out).
 */
function mockServer({ answer = () => ({ status: 200 }), pullPages = null, cutPatches = new Set() } = {}) {
  const server = { pushes: [], uploads: new Map(), patches: [], heads: 0, posts: 0, cursorsAsked: [], seq: 0 };
  let patchCount = 0;
  globalThis.fetch = async (url, init = {}) => {
    const { pathname, searchParams } = new URL(url);
    const method = (init.method || "GET").toUpperCase();
    const headers = init.headers || {};
    if (method === "POST" && pathname === "/api/v1/auth/tokens") return json({ token: "tok", user: { username: "zhang", display_name: "张三" } });
    if (method === "GET" && pathname === "/api/v1/assignments") return json([ASSIGNMENT]);
    if (method === "GET" && pathname === "/api/v1/reference/rules") return json(RULES);
    if (method === "GET" && pathname === "/api/v1/legal-bases") return json({ detail: "无权访问" }, 403);
    if (method === "GET" && pathname === "/api/v1/sync/pull") {
      const cursor = Number(searchParams.get("cursor"));
      server.cursorsAsked.push(cursor);
      const page = pullPages ? pullPages(cursor) : { changes: [], cursor, more: false, head: cursor };
      return page instanceof Response ? page : json(page);
    }
    if (method === "POST" && pathname === "/api/v1/sync/push") {
      const body = JSON.parse(init.body);
      server.pushes.push(body);
      const decided = answer(body);
      if (decided instanceof Response) return decided;
      return json({
        results: body.operations.map((operation) => {
          const result = typeof decided === "function" ? decided(operation) : decided;
          return result === null ? null : { op_id: operation.op_id, server_seq: ++server.seq, ...result };
        }).filter(Boolean),
        server_time: "2026-12-03T01:00:00+00:00", clock_skew_seconds: 0.5, skew_flagged: false,
      });
    }
    if (pathname.startsWith("/api/v1/uploads")) {
      assert.equal(headers.Authorization, "Bearer tok");
      assert.equal(headers["Tus-Resumable"], "1.0.0");
      const tusHeaders = (extra) => ({ "Tus-Resumable": "1.0.0", ...extra });
      if (method === "POST") {
        server.posts += 1;
        const id = `u${server.posts}`;
        const metadata = Object.fromEntries(headers["Upload-Metadata"].split(",").map((pair) => {
          const [key, value] = pair.split(" ");
          return [key, Buffer.from(value, "base64").toString("utf8")];
        }));
        server.uploads.set(id, { length: Number(headers["Upload-Length"]), bytes: Buffer.alloc(0), metadata });
        return new Response(null, { status: 201, headers: tusHeaders({ Location: `/api/v1/uploads/${id}`, "Upload-Offset": "0" }) });
      }
      const upload = server.uploads.get(pathname.split("/").pop());
      if (!upload) return new Response(null, { status: 404, headers: tusHeaders({}) });
      if (method === "HEAD") {
        server.heads += 1;
        return new Response(null, { status: 200, headers: tusHeaders({ "Upload-Offset": String(upload.bytes.length), "Upload-Length": String(upload.length) }) });
      }
      if (method === "PATCH") {
        patchCount += 1;
        const chunk = Buffer.from(await init.body.arrayBuffer());
        server.patches.push(chunk.length);
        if (Number(headers["Upload-Offset"]) !== upload.bytes.length) return new Response(null, { status: 409, headers: tusHeaders({}) });
        if (cutPatches.has(patchCount)) {
          // The link drops mid-chunk: part of it arrived, the answer never does.
          upload.bytes = Buffer.concat([upload.bytes, chunk.subarray(0, 100_000)]);
          throw new TypeError("network connection lost");
        }
        upload.bytes = Buffer.concat([upload.bytes, chunk]);
        if (upload.bytes.length === upload.length) {
          upload.sha256 = createHash("sha256").update(upload.bytes).digest("hex");
          if (upload.sha256 !== upload.metadata.sha256) return json({ detail: "SHA-256 不符" }, 422);
        }
        return new Response(null, { status: 204, headers: tusHeaders({ "Upload-Offset": String(upload.bytes.length) }) });
      }
    }
    return json({ detail: "not found" }, 404);
  };
  return server;
}

async function recorded() {
  mockServer();
  await login("zhang", "pw");
  await pull();
  await revealWithCode(11, ENVELOPE.code);
  const { inspection } = await checkIn(11, null);
  return inspection.uuid;
}

async function outbox() {
  return (await (await database()).getAll("outbox")).sort((a, b) => a.seq - b.seq);
}

function bigJpeg(size) {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index += 1) bytes[index] = (index * 7919) % 251;
  bytes.set([0xff, 0xd8, 0xff, 0xdb], 0);
  return new Blob([bytes], { type: "image/jpeg" });
}

beforeEach(async () => {
  await wipeDatabase();
  setServerBase("http://server.test");
});

test("push: 200 done with server_seq, 409 and 422 refused with the reason, unanswered kept pending", async () => {
  const inspection = await recorded();
  await recordObservations(inspection, { k3_visitors: 10 });
  const note = await addNote(inspection, "positive", "好");
  const noteOp = (await outbox()).find((row) => row.entity === "note");
  const observationOp = (await outbox()).find((row) => row.entity === "observation");
  const server = mockServer({ answer: () => answerFor });
  function answerFor(operation) {
    if (operation.entity === "note") return { status: 422, detail: "说明文字过长。" };
    if (operation.entity === "observation") return { status: 409 };
    if (operation.entity === "inspection") return null; // left out of the answer
    return { status: 200 };
  }
  const outcome = await push();
  assert.equal(server.pushes.length, 1);
  const [body] = server.pushes;
  assert.match(body.device_id, /^[0-9a-f-]{36}$/);
  assert.match(body.device_time, /[+-]\d\d:\d\d$/);
  assert.deepEqual(Object.keys(body.operations[0]).sort(), ["entity", "entity_id", "op_id", "payload", "payload_sha256"]);
  assert.equal(outcome.done, 1);
  assert.equal(outcome.kept, 1);
  assert.deepEqual(outcome.refused.map((row) => row.reason).sort(), ["与服务器上已有的内容不一致", "说明文字过长。"]);
  const rows = await outbox();
  assert.equal(rows.find((row) => row.entity === "assignment_reveal").state, "done");
  assert.ok(Number.isInteger(rows.find((row) => row.entity === "assignment_reveal").server_seq));
  assert.equal(rows.find((row) => row.op_id === noteOp.op_id).state, "failed");
  assert.equal(rows.find((row) => row.op_id === observationOp.op_id).state, "failed");
  const kept = rows.find((row) => row.entity === "inspection");
  assert.equal(kept.state, "pending");
  assert.match(kept.last_error, /下次同步时重试/);
  assert.deepEqual((await refusedOperations()).map((row) => row.entity).sort(), ["note", "observation"]);
  const status = await syncStatus();
  assert.equal(status.pendingOps, 1);
  assert.equal(status.refused, 2);
  void note;
});

test("push: an answer that is not the contract's marks nothing done", async () => {
  await recorded();
  mockServer({ answer: () => new Response("<html>portal</html>", { status: 200, headers: { "Content-Type": "text/html" } }) });
  const outcome = await push();
  assert.equal(outcome.done, 0);
  assert.match(outcome.error, /Wi-Fi/);
  mockServer({ answer: () => json({ results: [{ op_id: 5, status: "200" }] }) });
  assert.match((await push()).error, /格式不正确/);
  mockServer({ answer: () => json({ detail: "服务器内部错误" }, 503) });
  assert.match((await push()).error, /服务器内部错误/);
  assert.ok((await outbox()).every((row) => row.state === "pending"));
});

test("push in batches, in the order the operations were made", async () => {
  const inspection = await recorded();
  for (let index = 0; index < 5; index += 1) await addNote(inspection, "positive", `第 ${index} 条`);
  const server = mockServer();
  const outcome = await push({ batchSize: 3 });
  assert.equal(outcome.done, 7);
  assert.deepEqual(server.pushes.map((body) => body.operations.length), [3, 3, 1]);
  const sent = server.pushes.flatMap((body) => body.operations.map((operation) => operation.op_id));
  assert.deepEqual(sent, (await outbox()).map((row) => row.op_id));
});

test("a refusal is settled by an accepted amendment that names it", async () => {
  const inspection = await recorded();
  await addNote(inspection, "positive", "好");
  await submit(inspection);
  mockServer({ answer: () => (operation) => (operation.entity === "note" ? { status: 409, detail: "冲突" } : { status: 200 }) });
  await push();
  const [refused] = await refusedOperations();
  assert.equal(refused.entity, "note");
  await amend(inspection, "补充说明", { notes_added: [{ kind: "positive", text: "好（更正）" }] }, [refused.op_id]);
  // Refused again: still outstanding.
  mockServer({ answer: () => ({ status: 422, detail: "更正无效" }) });
  await push();
  assert.equal((await refusedOperations()).length, 2);
  // A corrected amendment that names the note's refusal, accepted: the note's refusal is settled.
  const amendmentRefusal = (await refusedOperations()).find((row) => row.entity === "amendment");
  await amend(inspection, "补充说明（修正）", { notes_added: [{ kind: "positive", text: "好" }] }, [refused.op_id, amendmentRefusal.op_id]);
  mockServer();
  const outcome = await syncNow({ retryDelays: [] });
  assert.equal(outcome.error, undefined);
  assert.deepEqual(await refusedOperations(), []);
  const settled = (await outbox()).find((row) => row.op_id === refused.op_id);
  assert.ok(settled.settled_at);
  assert.equal(settled.state, "failed"); // what the server refused stays refused, settled
});

test("a refusal is settled by a corrected resend of the same record", async () => {
  const inspection = await recorded();
  await recordObservations(inspection, { k3_visitors: 10 });
  mockServer({ answer: () => (operation) => (operation.entity === "observation" ? { status: 422, detail: "值无效" } : { status: 200 }) });
  await push();
  assert.equal((await refusedOperations()).length, 1);
  await recordObservations(inspection, { k3_visitors: 12 });
  mockServer();
  await push();
  assert.deepEqual(await refusedOperations(), []);
  const rows = (await outbox()).filter((row) => row.entity === "observation");
  assert.equal(rows[0].settled_by, rows[1].op_id);
});

test("photo_received: the server holds the bytes already, nothing is uploaded", async () => {
  const inspection = await recorded();
  await addPhoto(inspection, new Blob([JPEG], { type: "image/jpeg" }));
  const server = mockServer({ answer: () => (operation) => (operation.entity === "photo" ? { status: 200, photo_received: true } : { status: 200 }) });
  const outcome = await syncNow({ retryDelays: [] });
  assert.equal(outcome.photosHeld, 1);
  assert.equal(outcome.photosUploaded, 0);
  assert.equal(server.posts + server.patches.length + server.heads, 0);
  assert.equal((await syncStatus()).pendingPhotos, 0);
  assert.ok(await getMeta("last_sync_at"));
});

test("a photo is uploaded by tus once its record is on the server; chunk size adapts", async () => {
  const inspection = await recorded();
  const photo = await addPhoto(inspection, bigJpeg(1_500_000));
  const before = mockServer({ answer: () => (operation) => (operation.entity === "photo" ? { status: 503 } : { status: 200 }) });
  await syncNow({ retryDelays: [] });
  assert.equal(before.posts, 0); // its record is not on the server yet: no bytes
  const server = mockServer({ cutPatches: new Set([2]) });
  const progress = [];
  const outcome = await syncNow({ retryDelays: [0, 0, 0], onProgress: (event) => progress.push(event.stage) });
  assert.equal(outcome.error, undefined, outcome.error);
  assert.equal(outcome.photosUploaded, 1);
  const [upload] = [...server.uploads.values()];
  assert.equal(upload.sha256, photo.sha256);
  assert.deepEqual(upload.metadata, { sha256: photo.sha256, filename: photo.original_name, filetype: "image/jpeg" });
  // 256 KiB, then 512 KiB cut after 100 000 bytes: halved to 256 KiB, which is now the ceiling
  // (as field_client/chunking.py), resumed from the server's offset.
  assert.deepEqual(server.patches.slice(0, 4), [CHUNK_START, 2 * CHUNK_START, CHUNK_START, CHUNK_START]);
  assert.ok(server.heads >= 1);
  assert.ok(progress.includes("photos"));
  const state = await (await database()).get("uploads", photo.uuid);
  assert.ok(state.uploaded_at);
  assert.equal(state.offset, photo.size);
  assert.equal((await syncStatus()).pendingPhotos, 0);
});

test("a closed page resumes the upload from the server's offset on the next sync", async () => {
  const inspection = await recorded();
  const photo = await addPhoto(inspection, bigJpeg(700_000));
  mockServer();
  await push();
  const server = mockServer({ cutPatches: new Set([2]) });
  const first = await syncNow({ retryDelays: [] });
  assert.match(first.error, /上传中断/);
  const saved = await (await database()).get("uploads", photo.uuid);
  assert.equal(saved.upload_url, "http://server.test/api/v1/uploads/u1");
  assert.equal(saved.offset, CHUNK_START);
  assert.equal(saved.uploaded_at, null);
  // "Reopened": the same server, the state read from IndexedDB.
  const patchesBefore = server.patches.length;
  const second = await syncNow({ retryDelays: [] });
  assert.equal(second.error, undefined, second.error);
  assert.equal(server.posts, 1); // no new upload: resumed
  assert.equal(server.uploads.get("u1").sha256, photo.sha256);
  const sent = server.patches.slice(patchesBefore).reduce((total, size) => total + size, 0);
  assert.equal(sent, 700_000 - CHUNK_START - 100_000);
});

test("the pull cursor advances with what is stored and never beyond the server's head", async () => {
  const inspection = await recorded();
  const pages = {
    0: { changes: [{ seq: 4, entity: "inspection", entity_id: inspection, data: { status: "awaiting_evidence" } }], cursor: 4, more: true, head: 9 },
    4: { changes: [{ seq: 9, entity: "assignment", entity_id: "11", data: { status: "submitted", status_label: "已提交" } }], cursor: 9, more: false, head: 9 },
  };
  mockServer({ pullPages: (cursor) => pages[cursor] });
  assert.deepEqual(await pullChanges(), { changes: 2, cursor: 9 });
  assert.equal(await getMeta("pull_cursor"), 9);
  const db = await database();
  assert.equal((await db.get("inspections", inspection)).server_status, "awaiting_evidence");
  assert.equal((await db.get("assignments", 11)).status_label, "已提交");

  mockServer({ pullPages: () => ({ changes: [], cursor: 20, more: false, head: 12 }) });
  await assert.rejects(pullChanges(), /超过其当前的变化序号/);
  assert.equal(await getMeta("pull_cursor"), 9);
  mockServer({ pullPages: () => ({ changes: [], cursor: 3, more: false, head: 12 }) });
  await assert.rejects(pullChanges(), /小于本机/);
  mockServer({ pullPages: () => new Response("<html/>", { headers: { "Content-Type": "text/html" } }) });
  await assert.rejects(pullChanges());
  assert.equal(await getMeta("pull_cursor"), 9);
});

test("never two syncs at once", async () => {
  await recorded();
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  mockServer();
  const original = globalThis.fetch;
  globalThis.fetch = async (...args) => {
    await gate;
    return original(...args);
  };
  const first = syncNow({ retryDelays: [] });
  const second = await syncNow({ retryDelays: [] });
  assert.equal(second.busy, true);
  assert.match(second.error, /同步正在进行/);
  release();
  const done = await first;
  assert.equal(done.busy, undefined);
  assert.ok(done.pushed >= 2);
});

test("the chunk sizer grows on success and halves after a cut", () => {
  const sizer = new ChunkSizer();
  assert.equal(sizer.size, 256 * 1024);
  sizer.delivered();
  assert.equal(sizer.size, 512 * 1024);
  sizer.cut();
  assert.equal(sizer.size, 256 * 1024);
  // The cut lowered the ceiling: larger again only after 8 good chunks at it.
  for (let index = 0; index < 7; index += 1) sizer.delivered();
  assert.equal(sizer.size, 256 * 1024);
  sizer.delivered();
  assert.equal(sizer.size, 512 * 1024);
  for (let index = 0; index < 200; index += 1) sizer.delivered();
  assert.equal(sizer.size, 8 * 1024 * 1024);
});
