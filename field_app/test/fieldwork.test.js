// The verbs over the local store, with the server mocked: pull, reveal, check-in, the record
// (observations, findings, photos, penalties, notes, signatures), submission, amendments, and
// logout. Each verb's operations must carry exactly the CLI's payload keys.
import "fake-indexeddb/auto";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { beforeEach, test } from "node:test";
import {
  FieldError, REVEAL_TOLERANCE_KEY, database, getMeta, payloadSha256, pendingOperations, setServerBase, wipeDatabase,
} from "../src/store.js";
import {
  addFinding, addNote, addPenalty, addPhoto, addSignature, amend, checkIn, getRecord, listAssignments, pull,
  recordObservations, refusedOperations, revealOnline, revealWithCode, submit,
} from "../src/fieldwork.js";
import { UnsyncedWorkError, currentUser, login, logout } from "../src/session.js";
import { sha256Hex } from "../src/digest.js";

const ENVELOPE = JSON.parse(readFileSync(new URL("./fixtures/envelope.json", import.meta.url), "utf8"));
const JPEG = readFileSync(new URL("./fixtures/gps.jpg", import.meta.url));
const ASSIGNMENT_UUID = ENVELOPE.assignment_uuid;

const RULES = [
  {
    code: "K3", section: "三.3", title: "景区、文化场馆、体育馆接待人数不超过核定人数的50%", categories: ["ktv", "museum"],
    items: [{ code: "k3_visitors", prompt: "现场接待人数（人）", value_type: "integer" }],
    checks: [{
      code: "k3_visitors_within_half_capacity", description: "接待人数不超过核定人数的50%",
      expression: { "<=": [{ var: "obs.k3_visitors" }, { "*": [{ var: "venue.approved_capacity" }, "1/2"] }] },
    }],
  },
  {
    code: "K10", section: "三.10", title: "入口查验", categories: ["ktv"],
    items: [{ code: "k10_masks", prompt: "入口是否要求佩戴口罩？", value_type: "boolean" }],
    checks: [{ code: "k10_masks_required", description: "入口要求佩戴口罩", expression: { "==": [{ var: "obs.k10_masks" }, true] } }],
  },
  { code: "K7", title: "会议活动", categories: ["hotel"], items: [], checks: [] },
];

const LEGAL_BASIS = {
  code: "psapl2012_art50_1_1", provision: "psapl-emergency-order", law: "中华人民共和国治安管理处罚法",
  article: "第五十条第一款第（一）项", text: "……", penalty_types: ["warning", "fine", "detention"],
  max_fine_individual: 500, max_fine_unit: null, max_detention_days: 10, valid_from: "2006-03-01", valid_to: "2026-12-31",
  benchmarks: [
    { code: "first", circumstance: "first", party_kind: "individual", penalty_types: ["warning", "fine"], min_fine: null,
      max_fine: 200, valid_from: "2006-03-01", valid_to: "2026-12-31" },
    { code: "repeated", circumstance: "repeated", party_kind: "individual", penalty_types: ["fine"], min_fine: 100,
      max_fine: 200, valid_from: "2006-03-01", valid_to: "2026-12-31" },
    { code: "refused", circumstance: "refused", party_kind: "individual", penalty_types: ["detention", "fine"],
      max_fine: 500, valid_from: "2006-03-01", valid_to: "2026-12-31" },
  ],
};

const HOUR_MS = 3_600_000;

// A server time `hours` from now (the offline reveal is allowed only inside the window, by the
// phone's clock, so the fixture's window is open now).
function hoursFromNow(hours) {
  return new Date(Date.now() + hours * HOUR_MS).toISOString().replace(/\.\d+Z$/, "+00:00");
}

function assignment(overrides = {}) {
  return {
    id: 11, uuid: ASSIGNMENT_UUID, draw_id: 3, position: 1, status: "dispatched", status_label: "已派发",
    visit_date: "2026-12-03", window_start: hoursFromNow(-1), window_end: hoursFromNow(8),
    meeting_point: "市政府东门", may_propose_penalties: true, members: [], envelope: ENVELOPE.envelope_b64, ...overrides,
  };
}

// A mock of the server: routes by "METHOD /path"; records every request.
function mockServer(routes) {
  const requests = [];
  globalThis.fetch = async (url, init = {}) => {
    const { pathname, search } = new URL(url);
    const method = (init.method || "GET").toUpperCase();
    const body = typeof init.body === "string" ? JSON.parse(init.body) : init.body;
    requests.push({ method, path: pathname, search, body, headers: init.headers || {} });
    const handler = routes[`${method} ${pathname}`];
    if (!handler) return json({ detail: "not found" }, 404);
    const answer = await handler({ search, body, headers: init.headers || {} });
    return answer instanceof Response ? answer : json(answer);
  };
  return requests;
}

function json(value, status = 200) {
  return new Response(JSON.stringify(value), { status, headers: { "Content-Type": "application/json" } });
}

const EMPTY_PULL = { "GET /api/v1/sync/pull": () => ({ changes: [], cursor: 0, more: false, head: 0 }) };

async function loggedIn() {
  mockServer({ "POST /api/v1/auth/tokens": () => ({ token: "device-token", user: { username: "zhang", display_name: "张三" } }) });
  await login("zhang", "secret");
}

async function pulled({ legal = () => [LEGAL_BASIS], assignments = [assignment()], changes = EMPTY_PULL } = {}) {
  const requests = mockServer({
    "GET /api/v1/assignments": () => assignments,
    "GET /api/v1/reference/rules": () => RULES,
    "GET /api/v1/legal-bases": legal,
    ...changes,
  });
  await pull();
  return requests;
}

async function checkedIn() {
  await loggedIn();
  await pulled();
  await revealWithCode(11, ENVELOPE.code);
  const { inspection } = await checkIn(11, { latitude: ENVELOPE.target.latitude, longitude: ENVELOPE.target.longitude, accuracy: 12 });
  return inspection.uuid;
}

async function operations(entity) {
  return (await (await database()).getAll("outbox")).filter((row) => !entity || row.entity === entity);
}

beforeEach(async () => {
  await wipeDatabase();
  setServerBase("http://server.test");
});

test("login keeps the token and the user; the device label is Chinese", async () => {
  const requests = mockServer({
    "POST /api/v1/auth/tokens": () => ({ token: "device-token", user: { username: "zhang", display_name: "张三", role: "inspector" } }),
  });
  assert.deepEqual(await login(" zhang ", "secret"), { username: "zhang", display_name: "张三" });
  assert.deepEqual(requests[0].body, { username: "zhang", password: "secret", label: "暗访现场（手机）" });
  assert.deepEqual(await currentUser(), { username: "zhang", display_name: "张三" });
  mockServer({ "POST /api/v1/auth/tokens": () => json({ detail: "用户名或密码错误" }, 401) });
  await assert.rejects(login("zhang", "wrong"), { message: "用户名或密码不正确。" });
});

test("pull stores assignments, rules and the legal bases of each visit day, then the sync pull", async () => {
  await loggedIn();
  const requests = await pulled();
  const paths = requests.map((request) => `${request.method} ${request.path}${request.search}`);
  assert.ok(paths.includes("GET /api/v1/legal-bases?on=2026-12-03"), paths.join("\n"));
  assert.ok(paths.includes("GET /api/v1/sync/pull?cursor=0"));
  assert.ok(requests.every((request) => request.headers.Authorization === "Bearer device-token"));
  const [listed] = await listAssignments();
  assert.equal(listed.id, 11);
  assert.equal(listed.revealed, false);
  assert.equal(listed.target, undefined);
  const record = await getRecord(11);
  assert.equal(record.legalBases.length, 1);
});

test("pull goes on when inspectors may not read the legal bases (403)", async () => {
  await loggedIn();
  await pulled({ legal: () => json({ detail: "无权访问" }, 403) });
  assert.equal((await (await database()).get("meta", "legal_bases_available")).value, false);
});

test("a pull refused as a whole changes nothing (captive portal)", async () => {
  await loggedIn();
  mockServer({
    "GET /api/v1/assignments": () => new Response("<html></html>", { headers: { "Content-Type": "text/html" } }),
  });
  await assert.rejects(pull(), FieldError);
  assert.equal((await listAssignments()).length, 0);
});

test("reveal with the code offline, then check in: the CLI's operations", async () => {
  await loggedIn();
  await pulled();
  await assert.rejects(revealWithCode(11, "AAAAA-AAAAA"), FieldError);
  assert.equal((await operations()).length, 0);
  const target = await revealWithCode(11, ENVELOPE.code);
  assert.equal(target.name, ENVELOPE.target.name);
  const [reveal] = await operations("assignment_reveal");
  assert.deepEqual(Object.keys(reveal.payload).sort(), ["assignment_uuid", "device_time", "how", "revealed_at"]);
  assert.equal(reveal.payload.how, "code");
  assert.equal(reveal.entity_id, ASSIGNMENT_UUID);
  // A second reveal does not queue a second operation.
  await revealWithCode(11, ENVELOPE.code);
  assert.equal((await operations("assignment_reveal")).length, 1);

  const near = { latitude: ENVELOPE.target.latitude + 0.0045, longitude: ENVELOPE.target.longitude, accuracy: 20 };
  const result = await checkIn(11, near);
  assert.equal(result.far, true);
  assert.ok(result.distance_m > 450 && result.distance_m < 550, String(result.distance_m));
  const [inspection] = await operations("inspection");
  assert.deepEqual(Object.keys(inspection.payload).sort(),
    ["assignment_uuid", "checked_in_at", "device_time", "latitude", "longitude", "status", "uuid"]);
  assert.equal(inspection.payload.status, "draft");
  assert.equal(inspection.entity_id, result.inspection.uuid);
  await assert.rejects(checkIn(11, null), { message: "该任务已签到。" });
  const [listed] = await listAssignments();
  assert.equal(listed.revealed, true);
  assert.equal(listed.inspection.status, "draft");
});

test("an offline reveal outside the window is refused on the phone, with the window in Beijing time", async () => {
  await loggedIn();
  // The window opens in two hours; the server allows ten minutes of clock drift.
  const future = assignment({ window_start: "2026-12-05T01:00:00+00:00", window_end: "2026-12-05T04:00:00+00:00" });
  await pulled({
    assignments: [future],
    changes: { "GET /api/v1/sync/pull": () => ({ changes: [], cursor: 0, more: false, head: 0, reveal_clock_tolerance_s: 600 }) },
  });
  assert.equal(await getMeta(REVEAL_TOLERANCE_KEY), 600);
  await assert.rejects(revealWithCode(11, ENVELOPE.code, { now: new Date("2026-12-04T23:00:00Z") }), (error) => {
    assert.ok(error instanceof FieldError);
    assert.equal(error.message, "时间窗口尚未开始，不能离线揭封：时间窗口为 2026-12-05 09:00 至 2026-12-05 12:00"
      + "（北京时间），本机时间 2026-12-05 07:00。");
    return true;
  });
  await assert.rejects(revealWithCode(11, ENVELOPE.code, { now: new Date("2026-12-05T04:10:00Z") }),
    { message: /^时间窗口已结束，不能离线揭封/ });
  assert.equal((await operations()).length, 0);
  assert.equal((await listAssignments())[0].revealed, false);
  // Within the tolerance before the window opens: a clock a few minutes fast is no reason to refuse.
  const target = await revealWithCode(11, ENVELOPE.code, { now: new Date("2026-12-05T00:52:00Z") });
  assert.equal(target.name, ENVELOPE.target.name);
  assert.equal((await operations("assignment_reveal")).length, 1);
});

test("a sealed assignment has no envelope and is not revealed; a cancelled one's envelope is dropped", async () => {
  await loggedIn();
  await pulled({ assignments: [assignment({ status: "sealed", status_label: "已封存", envelope: undefined })] });
  await assert.rejects(revealWithCode(11, ENVELOPE.code), { message: /尚未派发/ });
  // Dispatched: the next pull brings the envelope.
  await pulled();
  assert.ok((await (await database()).get("assignments", 11)).envelope);
  // Cancelled, heard by the change pull: the envelope goes.
  await pulled({
    changes: { "GET /api/v1/sync/pull": () => ({
      changes: [{ seq: 5, entity: "assignment", entity_id: ASSIGNMENT_UUID, data: { status: "cancelled", status_label: "已取消" } }],
      cursor: 5, more: false, head: 5 }) },
    assignments: [],
  });
  const held = await (await database()).get("assignments", 11);
  assert.equal(held.status, "cancelled");
  assert.equal(held.envelope, null);
  await assert.rejects(revealWithCode(11, ENVELOPE.code), { message: "该任务已取消，不能揭封。" });
  // Heard by the list alone (another device's cursor): the same.
  await wipeDatabase();
  await loggedIn();
  await pulled();
  await pulled({ assignments: [assignment({ status: "expired", status_label: "已过期", envelope: undefined })] });
  assert.equal((await (await database()).get("assignments", 11)).envelope, null);
});

test("reveal online with the server's key", async () => {
  await loggedIn();
  await pulled();
  const requests = mockServer({ "POST /api/v1/assignments/11/reveal": () => ({ key: ENVELOPE.key, key_format: "base64url" }) });
  const target = await revealOnline(11);
  assert.equal(target.address, ENVELOPE.target.address);
  assert.equal(requests[0].path, "/api/v1/assignments/11/reveal");
  const [reveal] = await operations("assignment_reveal");
  assert.equal(reveal.payload.how, "online");
  const { inspection, distance_m: distance, far } = await checkIn(11, null);
  assert.equal(distance, null);
  assert.equal(far, false);
  assert.equal(inspection.latitude, null);
});

test("observations are evaluated; violated checks become findings, corrected ones are withdrawn", async () => {
  const inspection = await checkedIn();
  const results = await recordObservations(inspection, { k3_visitors: "61", k10_masks: "是" });
  assert.equal(results.find((result) => result.code === "K3").verdict, "violation");
  const [finding] = await operations("finding");
  assert.deepEqual(Object.keys(finding.payload).sort(),
    ["check_code", "created_at", "description", "inspection_uuid", "rule_code", "source", "uuid"]);
  assert.equal(finding.payload.source, "evaluator");
  const observation = (await operations("observation")).find((row) => row.payload.item_code === "k3_visitors");
  assert.equal(observation.entity_id, `${inspection}/k3_visitors`);
  assert.deepEqual(Object.keys(observation.payload).sort(), ["inspection_uuid", "item_code", "recorded_at", "value"]);
  assert.equal(observation.payload.value, 61);
  // Recording the same violation again adds no second finding.
  await recordObservations(inspection, { k3_visitors: 62 });
  assert.equal((await operations("finding")).length, 1);
  // 60 of 120 is compliant (≤ 50 %): the finding is withdrawn, not deleted.
  await recordObservations(inspection, { k3_visitors: 60 });
  const [withdrawal] = await operations("finding_withdrawal");
  assert.deepEqual(Object.keys(withdrawal.payload).sort(), ["finding_uuid", "withdrawn_at"]);
  assert.equal(withdrawal.payload.finding_uuid, finding.payload.uuid);
  assert.equal((await getRecord(11)).findings.length, 0);
  await assert.rejects(recordObservations(inspection, { k3_visitors: "很多" }), /应填整数/);
  await assert.rejects(recordObservations(inspection, { unknown_item: 1 }), /不属于该场所适用的规则/);
  await assert.rejects(addFinding(inspection, "K7", "会议"), /所选规则不适用于该场所/);
});

test("a photo keeps its original bytes, hash and EXIF facts; the operation has the CLI's keys", async () => {
  const inspection = await checkedIn();
  const findingUuid = await addFinding(inspection, "k3", "包厢内人数明显超过核定人数");
  const file = new File([JPEG], "IMG_0001.jpg", { type: "image/jpeg" });
  const row = await addPhoto(inspection, file, { findingUuid, caption: " 入口 " });
  assert.equal(row.sha256, await sha256Hex(JPEG));
  assert.equal(row.size, JPEG.length);
  assert.equal(row.media_type, "image/jpeg");
  assert.equal(row.filename, `${row.sha256}.jpg`);
  assert.equal(row.exif_time, "2021:08:10 10:20:30");
  assert.equal(row.latitude, 29.0867611);
  assert.equal(row.longitude, 119.6460194);
  assert.equal(row.orientation, 6);
  assert.equal(row.caption, "入口");
  assert.equal(typeof row.distance_m, "number");
  const stored = await (await database()).get("photos", row.uuid);
  assert.deepEqual(new Uint8Array(await stored.blob.arrayBuffer()), new Uint8Array(JPEG));
  const [operation] = await operations("photo");
  assert.deepEqual(Object.keys(operation.payload).sort(), ["caption", "created_at", "exif_time", "filename", "finding_uuid",
    "inspection_uuid", "latitude", "longitude", "media_type", "orientation", "original_name", "sha256", "size", "uuid"]);
  assert.equal(operation.payload.finding_uuid, findingUuid);
  await assert.rejects(addPhoto(inspection, new Blob(["not an image"])), /不是可识别的照片/);
});

test("penalties: permission, amounts, and the basis's range and validity on the visit day", async () => {
  const inspection = await checkedIn();
  const finding = await addFinding(inspection, "K3", "超员");
  await assert.rejects(addPenalty(finding, { type: "fine", amount: 0 }), /大于 0/);
  await assert.rejects(addPenalty(finding, { type: "warning", amount: 100 }), /不需要填写金额/);
  await assert.rejects(addPenalty(finding, { type: "fine", amount: 600, basisCode: "psapl2012_art50_1_1" }),
    (error) => error instanceof FieldError && /0–500 元/.test(error.message) && /600/.test(error.message));
  await assert.rejects(addPenalty(finding, { type: "suspend", basisCode: "psapl2012_art50_1_1" }), /不规定责令停业整顿/);
  await assert.rejects(addPenalty(finding, { type: "fine", amount: 100, basisCode: "nonexistent" }), /没有所选的法律依据/);
  const uuid = await addPenalty(finding, { type: "fine", amount: 200, basisCode: "psapl-emergency-order" });
  const [operation] = await operations("penalty");
  assert.equal(operation.entity_id, uuid);
  assert.deepEqual(operation.payload, { uuid, finding_uuid: finding, type: "fine", amount: 200,
    basis_code: "psapl2012_art50_1_1", created_at: operation.payload.created_at });
  await addPenalty(finding, { type: "warning" });
  assert.equal((await operations("penalty"))[1].payload.amount, null);
});

test("a basis no longer in force on the visit day is named with its validity", async () => {
  await loggedIn();
  await pulled({ assignments: [assignment({ visit_date: "2027-01-05" })] });
  await revealWithCode(11, ENVELOPE.code);
  const { inspection } = await checkIn(11, null);
  const finding = await addFinding(inspection.uuid, "K3", "超员");
  await assert.rejects(addPenalty(finding, { type: "fine", amount: 100, basisCode: "psapl2012_art50_1_1" }),
    /有效期 2006-03-01 至 2026-12-31.*2027-01-05/);
});

test("no penalties where the team may not propose them", async () => {
  await loggedIn();
  await pulled({ assignments: [assignment({ may_propose_penalties: false })] });
  await revealWithCode(11, ENVELOPE.code);
  const { inspection } = await checkIn(11, null);
  const finding = await addFinding(inspection.uuid, "K3", "超员");
  await assert.rejects(addPenalty(finding, { type: "warning" }), /不允许提出处罚建议/);
});

test("notes and signatures carry the agreed payloads", async () => {
  const inspection = await checkedIn();
  await assert.rejects(addNote(inspection, "positive", "  "), /不能为空/);
  const note = await addNote(inspection, "positive", "扫码测温落实到位");
  const [noteOp] = await operations("note");
  assert.deepEqual(Object.keys(noteOp.payload).sort(), ["created_at", "inspection_uuid", "kind", "text", "uuid"]);
  assert.equal(noteOp.entity_id, note);

  const png = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])], { type: "image/png" });
  const signature = await addSignature(inspection, { role: "inspector", signerName: "张三", png });
  const [signatureOp] = await operations("signature");
  assert.equal(signatureOp.entity_id, signature);
  assert.deepEqual(Object.keys(signatureOp.payload).sort(), ["inspection_uuid", "png_base64", "png_sha256", "refused",
    "role", "signed_at", "signer_name", "uuid", "witness_note"]);
  assert.equal(signatureOp.payload.png_base64, "iVBORw0KGgoBAgM=");
  assert.equal(signatureOp.payload.png_sha256, await sha256Hex(await png.arrayBuffer()));
  assert.equal(signatureOp.payload.refused, false);
  await assert.rejects(addSignature(inspection, { role: "venue_person", signerName: "王某", refused: true }), /见证情况/);
  await addSignature(inspection, { role: "venue_person", signerName: "王某", refused: true, witnessNote: "拒签，李某见证" });
  const refused = (await operations("signature"))[1].payload;
  assert.equal(refused.png_base64, null);
  assert.equal(refused.witness_note, "拒签，李某见证");
});

test("submit freezes the record; amendments correct it and may settle refusals", async () => {
  const inspection = await checkedIn();
  await recordObservations(inspection, { k3_visitors: 70, k10_masks: true });
  const [finding] = (await getRecord(11)).findings;
  const note = await addNote(inspection, "negative", "入口无人值守");
  await assert.rejects(amend(inspection, "原因", {}), /尚未提交/);
  const submittedAt = await submit(inspection);
  assert.match(submittedAt, /\+00:00$/);
  await assert.rejects(submit(inspection), /已提交/);
  await assert.rejects(addNote(inspection, "positive", "好"), /已提交/);
  const [submission] = await operations("inspection_submission");
  assert.deepEqual(Object.keys(submission.payload).sort(), ["device_time", "inspection_uuid", "submitted_at"]);

  // A refused operation to settle.
  const db = await database();
  const noteOp = (await operations("note"))[0];
  await db.put("outbox", { ...noteOp, state: "failed", last_error: "服务器认为数据无效" });
  const [refused] = await refusedOperations();
  assert.equal(refused.op_id, noteOp.op_id);
  assert.equal(refused.reason, "服务器认为数据无效");

  await assert.rejects(amend(inspection, " ", { observations: { k3_visitors: 60 } }), /原因/);
  await assert.rejects(amend(inspection, "原因", { colour: [] }), /无法识别/);
  const uuid = await amend(inspection, "人数点错", {
    observations: { k3_visitors: "60" },
    findings_withdrawn: [finding.uuid],
    notes_withdrawn: [note],
    notes_added: [{ kind: "positive", text: "整改后入口有人值守" }],
  }, [noteOp.op_id]);
  const [amendment] = await operations("amendment");
  assert.equal(amendment.entity_id, uuid);
  assert.deepEqual(Object.keys(amendment.payload).sort(), ["created_at", "inspection_uuid", "payload", "reason", "uuid"]);
  assert.deepEqual(Object.keys(amendment.payload.payload).sort(), ["findings_withdrawn", "notes_added", "notes_withdrawn", "observations"]);
  assert.deepEqual(amendment.payload.payload.observations, { k3_visitors: 60 });
  assert.deepEqual(Object.keys(amendment.payload.payload.notes_added[0]).sort(), ["kind", "text", "uuid"]);
  assert.equal(amendment.payload_sha256, await payloadSha256(amendment.payload));
  assert.equal((await db.getFromIndex("outbox", "op_id", noteOp.op_id)).settled_by, amendment.op_id);
  const record = await getRecord(11);
  assert.equal(record.observations.k3_visitors, 60);
  assert.equal(record.findings.length, 0);
  assert.deepEqual(record.notes.map((row) => row.text), ["整改后入口有人值守"]);
  assert.equal(record.amendments.length, 1);
  assert.equal(record.results.find((result) => result.code === "K3").verdict, "compliant");
});

test("logout refuses while work is unsynced, unless forced; then the store is wiped", async () => {
  const inspection = await checkedIn();
  await addNote(inspection, "positive", "好");
  await assert.rejects(logout(), (error) => {
    assert.ok(error instanceof UnsyncedWorkError);
    assert.ok(error.counts.pendingOps >= 3);
    assert.match(error.message, /项记录尚未同步/);
    return true;
  });
  assert.ok((await pendingOperations()).length >= 3);
  const requests = mockServer({ "DELETE /api/v1/auth/tokens/current": () => new Response(null, { status: 204 }) });
  await logout({ force: true });
  assert.equal(requests[0].headers.Authorization, "Bearer device-token");
  assert.equal(await currentUser(), null);
  assert.equal((await listAssignments()).length, 0);
});
