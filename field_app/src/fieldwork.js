// What an inspector does with an assignment, as verbs over the local store — the phone's twin of
// field_client/fieldwork.py. Each verb writes its rows and their outbox operations in one
// IndexedDB transaction; payloads carry exactly the CLI's keys and entity names. Everything here
// works offline except `pull` and `revealOnline`. Messages for the inspector are Chinese.
import exifr from "exifr";
import { canonicalJson, sha256Hex } from "./digest.js";
import { EnvelopeError, openWithCode, openWithKey } from "./envelope.js";
import { evaluateRule } from "./evaluator.js";
import { checkinRadius, distanceToVenue, hasPosition, outsideWindow, revealWindowSide } from "./geo.js";
import {
  Change, DROPPED_ENVELOPE_STATUSES, FieldError, REVEAL_TOLERANCE_KEY, allByIndex, database, getMeta, newUuid, nowUtc,
  requestJson, unsettledRefusals,
} from "./store.js";
import { pullChanges } from "./sync.js";
import { dateTime } from "./ui.js";

export const PENALTY_TYPES = { warning: "警告", fine: "罚款", suspend: "责令停业整顿" };
export const NOTE_KINDS = { positive: "正面典型", negative: "反面典型" };
export const SIGNATURE_ROLES = { inspector: "督查人员", venue_person: "被检查场所负责人" };
const VIOLATION = "violation";
const TRUE_WORDS = new Set(["是", "有", "y", "yes", "true", "1", "t", "对"]);
const FALSE_WORDS = new Set(["否", "无", "没有", "n", "no", "false", "0", "f", "不"]);
const AMENDMENT_KEYS = ["observations", "findings_added", "findings_withdrawn", "penalties_added",
  "penalties_withdrawn", "notes_added", "notes_withdrawn"];
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// --- lookups -----------------------------------------------------------------------------------

/** The calendar day in Beijing time (every day a person sees is Asia/Shanghai). */
export function shanghaiDate(date = new Date()) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(date);
}

async function requireAssignment(assignmentId) {
  const id = Number(assignmentId);
  const row = Number.isInteger(id) ? await (await database()).get("assignments", id) : undefined;
  if (!row) throw new FieldError("本机没有该任务；请联网下载任务后再试。");
  return row;
}

async function assignmentByUuid(uuid) {
  return (await database()).getFromIndex("assignments", "uuid", uuid);
}

async function inspectionOfAssignment(assignment) {
  return (await database()).getFromIndex("inspections", "assignment_uuid", assignment.uuid);
}

/** The inspection with its assignment, refusing changes once submitted (or amendments before). */
async function openInspection(inspectionUuid, { forAmendment = false } = {}) {
  const inspection = await (await database()).get("inspections", String(inspectionUuid ?? ""));
  if (!inspection) throw new FieldError("本机没有这份督查记录；请先揭封并签到。");
  const assignment = await assignmentByUuid(inspection.assignment_uuid);
  if (!assignment || !assignment.target) throw new FieldError("该任务尚未揭封，不能记录。");
  if (forAmendment && inspection.status !== "submitted") {
    throw new FieldError("该督查记录尚未提交，可直接修改，无需更正。");
  }
  if (!forAmendment && inspection.status === "submitted") {
    throw new FieldError("该督查记录已提交，不能再修改；如需更正，请提交更正并写明原因。");
  }
  return { inspection, assignment, target: assignment.target };
}

/** The `venue.*` facts, as the server's `venue_facts` gives them, from the revealed target. */
export function venueFacts(target) {
  return {
    category: target?.category_code ?? null,
    county: target?.county_code ?? null,
    approved_capacity: target?.approved_capacity ?? null,
  };
}

async function rulesBundle() {
  const row = await (await database()).get("rules", 1);
  if (!row) throw new FieldError("本机还没有规则数据；请先联网下载任务。");
  return row;
}

/** The pulled rules that apply to the target's venue category, in the server's order. */
async function rulesFor(target) {
  const { bundle } = await rulesBundle();
  const category = target?.category_code;
  return bundle.filter((rule) => (rule.categories || []).includes(category));
}

function itemsOf(rules) {
  const items = {};
  for (const rule of rules) for (const item of rule.items || []) items[item.code] = item;
  return items;
}

// --- values ------------------------------------------------------------------------------------

function itemName(item) {
  return item.prompt ? `“${item.prompt}”` : item.code;
}

/** A typed observation value from what the inspector entered (text or an already typed value). */
export function parseValue(item, value) {
  const kind = item.value_type;
  if (kind === "boolean" && typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isInteger(value) && kind !== "boolean") value = String(value);
  if (typeof value !== "string") throw new FieldError(`${itemName(item)}的值类型不正确。`);
  const text = value.trim();
  if (kind === "boolean") {
    if (TRUE_WORDS.has(text.toLowerCase())) return true;
    if (FALSE_WORDS.has(text.toLowerCase())) return false;
    throw new FieldError(`${itemName(item)}应填 是 或 否，收到“${text}”。`);
  }
  if (kind === "integer") {
    if (!/^[+-]?\d+$/.test(text)) throw new FieldError(`${itemName(item)}应填整数，收到“${text}”。`);
    const number = Number(text);
    if (number < 0) throw new FieldError(`${itemName(item)}不能为负数。`);
    if (!Number.isSafeInteger(number)) throw new FieldError(`${itemName(item)}的数值过大。`);
    return number;
  }
  if (kind === "choice") {
    for (const choice of item.choices || []) {
      if (text === choice.value || text === choice.label) return choice.value;
    }
    const options = (item.choices || []).map((choice) => choice.label).join("、");
    throw new FieldError(`${itemName(item)}应为以下之一：${options}，收到“${text}”。`);
  }
  if (!text) throw new FieldError(`${itemName(item)}不能为空。`);
  return text;
}

function checkedValues(rules, values) {
  if (!values || typeof values !== "object" || Array.isArray(values)) {
    throw new FieldError("检查项记录格式不正确。");
  }
  const items = itemsOf(rules);
  const checked = {};
  for (const [code, value] of Object.entries(values)) {
    if (!items[code]) throw new FieldError("有检查项不属于该场所适用的规则，请重新打开检查表后再填。");
    checked[code] = parseValue(items[code], value);
  }
  return checked;
}

// --- evaluation --------------------------------------------------------------------------------

/** Each rule's verdict with the same evaluator and rule data as the server. */
export function evaluate(rules, venue, observations) {
  return rules.map((rule) => {
    const own = {};
    for (const item of rule.items || []) {
      if (Object.prototype.hasOwnProperty.call(observations, item.code)) own[item.code] = observations[item.code];
    }
    return { ...evaluateRule(rule, { venue, observations: own }), title: rule.title ?? "" };
  });
}

async function observationsOf(inspectionUuid) {
  const rows = await allByIndex("observations", "inspection_uuid", inspectionUuid);
  return Object.fromEntries(rows.map((row) => [row.item_code, row.value]));
}

// --- pull --------------------------------------------------------------------------------------

function checkedAssignments(answer) {
  const bad = new FieldError("服务器返回的任务列表格式不正确，本次未做任何更改。");
  if (!Array.isArray(answer)) throw bad;
  for (const data of answer) {
    if (!(data && typeof data === "object" && Number.isInteger(data.id) && typeof data.uuid === "string"
      && typeof data.status === "string")) throw bad;
    if (data.envelope != null && typeof data.envelope !== "string") throw bad;
  }
  return answer.map((data) => ({ ...data, envelope: data.envelope == null ? null : envelopeText(data) }));
}

/** The envelope document (JSON text) from the server's standard base64, as the CLI keeps it. */
function envelopeText(data) {
  try {
    const binary = atob(data.envelope);
    const bytes = Uint8Array.from(binary, (character) => character.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FieldError(`任务 ${data.id} 的信封无法解码，本次未做任何更改。`);
  }
}

function checkedRules(answer) {
  if (!Array.isArray(answer) || !answer.every((rule) => rule && typeof rule === "object"
    && typeof rule.code === "string" && Array.isArray(rule.items) && Array.isArray(rule.checks))) {
    throw new FieldError("服务器返回的规则数据格式不正确，本次未做任何更改。");
  }
  return answer;
}

function checkedLegalBases(answer) {
  if (!Array.isArray(answer) || !answer.every((basis) => basis && typeof basis === "object"
    && typeof basis.code === "string" && typeof basis.valid_from === "string")) {
    throw new FieldError("服务器返回的法律依据格式不正确，本次未做任何更改。");
  }
  return answer;
}

/**
 * The legal bases in force on each visit day (and today). Inspectors may not be allowed to read
 * them (403): then the penalty ranges are checked by enforcement later, not on the phone.
 */
async function fetchLegalBases(days) {
  const byCode = new Map();
  for (const day of days) {
    let answer;
    try {
      answer = await requestJson("GET", `/api/v1/legal-bases?on=${encodeURIComponent(day)}`);
    } catch (error) {
      if (error instanceof FieldError && (error.status === 403 || error.status === 404)) {
        return { available: false, bases: [] };
      }
      throw error;
    }
    for (const basis of checkedLegalBases(answer)) byCode.set(basis.code, basis);
  }
  return { available: true, bases: [...byCode.values()] };
}

/**
 * Download the team's assignments (with their sealed envelopes), the rules, the legal bases, then
 * the server's changes. Everything is fetched and checked before anything is written: all or
 * nothing. Local reveals, targets and keys are never overwritten by a pull.
 */
export async function pull() {
  const assignments = checkedAssignments(await requestJson("GET", "/api/v1/assignments"));
  const rules = checkedRules(await requestJson("GET", "/api/v1/reference/rules"));
  const version = (await sha256Hex(new TextEncoder().encode(canonicalJson(rules)))).slice(0, 16);
  const days = [...new Set([shanghaiDate(), ...assignments.map((a) => a.visit_date).filter(Boolean)])].sort();
  const legal = await fetchLegalBases(days);
  const pulledAt = nowUtc();
  const change = new Change();
  change.step(["assignments", "rules", "legal_bases", "meta"], async (tx) => {
    const store = tx.objectStore("assignments");
    for (const data of assignments) {
      const held = await store.get(data.id);
      const local = held ? {
        target: held.target ?? null, revealed_at: held.revealed_at ?? null, revealed_how: held.revealed_how ?? null,
        key: held.key ?? null,
      } : { target: null, revealed_at: null, revealed_how: null, key: null };
      const dropped = DROPPED_ENVELOPE_STATUSES.includes(data.status);
      await store.put({
        ...data, members: data.members || [], may_propose_penalties: Boolean(data.may_propose_penalties),
        envelope: dropped ? null : data.envelope ?? held?.envelope ?? null, pulled_at: pulledAt, ...local,
        ...(dropped ? { key: null } : {}),
      });
    }
    await tx.objectStore("rules").put({ id: 1, version, bundle: rules, pulled_at: pulledAt });
    if (legal.available) {
      const bases = tx.objectStore("legal_bases");
      for (const basis of legal.bases) await bases.put({ ...basis, pulled_at: pulledAt });
    }
    await tx.objectStore("meta").put({ key: "legal_bases_available", value: legal.available });
    await tx.objectStore("meta").put({ key: "pulled_at", value: pulledAt });
  });
  await change.commit();
  await pullChanges();
  return { assignments: assignments.length };
}

// --- reading -----------------------------------------------------------------------------------

async function countsOf(inspectionUuid) {
  const db = await database();
  const [observations, findings, photos, penalties, notes, signatures, amendments] = await Promise.all(
    ["observations", "findings", "photos", "penalties", "notes", "signatures", "amendments"]
      .map((store) => db.getAllFromIndex(store, "inspection_uuid", inspectionUuid)),
  );
  const active = (rows) => rows.filter((row) => !row.withdrawn_at).length;
  return {
    observations: observations.length, findings: active(findings), photos: photos.length,
    penalties: active(penalties), notes: active(notes), signatures: signatures.length,
    amendments: amendments.length,
  };
}

/** The assignments on this phone, by visit window. */
export async function listAssignments() {
  const db = await database();
  const rows = await db.getAll("assignments");
  rows.sort((a, b) => String(a.window_start ?? "").localeCompare(String(b.window_start ?? "")) || a.id - b.id);
  const result = [];
  for (const row of rows) {
    const entry = {
      id: row.id, uuid: row.uuid, status: row.status, status_label: row.status_label ?? row.status,
      visit_date: row.visit_date ?? null, window_start: row.window_start ?? null, window_end: row.window_end ?? null,
      meeting_point: row.meeting_point ?? null, revealed: Boolean(row.target),
    };
    if (row.target) entry.target = row.target;
    const inspection = await db.getFromIndex("inspections", "assignment_uuid", row.uuid);
    if (inspection) {
      entry.inspection = {
        uuid: inspection.uuid, status: inspection.status, server_status: inspection.server_status ?? null,
        counts: await countsOf(inspection.uuid),
      };
    }
    result.push(entry);
  }
  return result;
}

function inForce(record, day) {
  return record.valid_from <= day && (record.valid_to == null || day <= record.valid_to);
}

async function legalBasesOn(day) {
  const all = await (await database()).getAll("legal_bases");
  return all.filter((basis) => inForce(basis, day));
}

function byCreated(a, b) {
  return String(a.created_at ?? "").localeCompare(String(b.created_at ?? "")) || (a.added_ms ?? 0) - (b.added_ms ?? 0);
}

/** Everything the record screen shows for one assignment. */
export async function getRecord(assignmentId) {
  const db = await database();
  const assignment = await requireAssignment(assignmentId);
  const target = assignment.target ?? null;
  const inspection = (await inspectionOfAssignment(assignment)) ?? null;
  const visitDay = assignment.visit_date || shanghaiDate();
  const record = {
    assignment, target, inspection, rules: [], observations: {}, results: [], findings: [], photos: [],
    penalties: [], notes: [], signatures: [], amendments: [], legalBases: await legalBasesOn(visitDay),
  };
  if (target) {
    const bundle = await db.get("rules", 1);
    record.rules = bundle ? bundle.bundle.filter((rule) => (rule.categories || []).includes(target.category_code)) : [];
  }
  if (!inspection) {
    if (target) record.results = evaluate(record.rules, venueFacts(target), {});
    return record;
  }
  const uuid = inspection.uuid;
  record.observations = await observationsOf(uuid);
  record.results = evaluate(record.rules, venueFacts(target), record.observations);
  const [findings, photos, penalties, notes, signatures, amendments, uploads, failed] = await Promise.all([
    db.getAllFromIndex("findings", "inspection_uuid", uuid), db.getAllFromIndex("photos", "inspection_uuid", uuid),
    db.getAllFromIndex("penalties", "inspection_uuid", uuid), db.getAllFromIndex("notes", "inspection_uuid", uuid),
    db.getAllFromIndex("signatures", "inspection_uuid", uuid), db.getAllFromIndex("amendments", "inspection_uuid", uuid),
    db.getAll("uploads"), db.getAllFromIndex("outbox", "state", "failed"),
  ]);
  const uploaded = new Map(uploads.map((upload) => [upload.photo_uuid, upload]));
  // A row whose own operation the server refused is not on the server: shown as such, and never
  // offered for withdrawal by an amendment (the server would refuse that too).
  const refusedRows = new Set(failed.map((op) => `${op.entity}/${op.entity_id}`));
  const marked = (entity) => (row) => ({ ...row, not_on_server: refusedRows.has(`${entity}/${row.uuid}`) });
  record.findings = findings.filter((row) => !row.withdrawn_at).sort(byCreated).map(marked("finding"));
  record.photos = photos.sort(byCreated).map((photo) => ({
    ...photo, uploaded: Boolean(uploaded.get(photo.uuid)?.uploaded_at),
    upload_offset: uploaded.get(photo.uuid)?.offset ?? 0, upload_error: uploaded.get(photo.uuid)?.last_error ?? null,
  })).map(marked("photo"));
  record.penalties = penalties.filter((row) => !row.withdrawn_at).sort(byCreated).map(marked("penalty"));
  record.notes = notes.filter((row) => !row.withdrawn_at).sort(byCreated).map(marked("note"));
  record.signatures = signatures.sort((a, b) => String(a.signed_at).localeCompare(String(b.signed_at)));
  record.amendments = amendments.sort(byCreated);
  return record;
}

// --- reveal and check-in -----------------------------------------------------------------------

function envelopeFailure(error) {
  if (error instanceof EnvelopeError) {
    const failure = new FieldError(error.message, { cause: error });
    failure.reason = error.reason;
    return failure;
  }
  return error instanceof FieldError ? error : new FieldError("无法打开信封，请重试。", { cause: error });
}

async function keepReveal(assignment, target, how, key = null) {
  const moment = nowUtc();
  const change = new Change();
  change.step("assignments", async (tx) => {
    const store = tx.objectStore("assignments");
    const held = await store.get(assignment.id);
    // Two taps (or two tabs) must not queue the reveal twice.
    if (held.revealed_at) throw new FieldError("该任务已揭封。");
    await store.put({ ...held, target, revealed_at: moment, revealed_how: how, key: key ?? held.key ?? null });
  });
  change.enqueue("assignment_reveal", assignment.uuid,
    { assignment_uuid: assignment.uuid, how, revealed_at: moment, device_time: moment });
  await change.commit();
  return target;
}

async function revealable(assignmentId) {
  const assignment = await requireAssignment(assignmentId);
  if (!assignment.envelope) throw new FieldError("本机没有该任务的信封；请联网下载任务后再试。");
  return assignment;
}

/**
 * Refuse an offline reveal the server would flag: before dispatch, after cancellation or expiry,
 * or outside the window by this phone's clock (widened by the tolerance the server gave).
 */
async function checkOfflineReveal(assignment, now = new Date()) {
  if (assignment.status === "sealed") {
    throw new FieldError("该任务尚未派发，不能揭封；派发后请联网下载任务，再输入揭封码。");
  }
  if (DROPPED_ENVELOPE_STATUSES.includes(assignment.status)) {
    throw new FieldError(`该任务${assignment.status_label || "已取消"}，不能揭封。`);
  }
  const side = revealWindowSide(assignment, await getMeta(REVEAL_TOLERANCE_KEY), now);
  if (side) {
    throw new FieldError(`时间窗口${side === "before" ? "尚未开始" : "已结束"}，不能离线揭封：时间窗口为 `
      + `${dateTime(assignment.window_start)} 至 ${dateTime(assignment.window_end)}（北京时间），本机时间 ${dateTime(now)}。`);
  }
}

/** Open the envelope offline with the reveal code given at dispatch (inside the window only). */
export async function revealWithCode(assignmentId, code, { now = new Date() } = {}) {
  const held = await requireAssignment(assignmentId);
  if (held.target) return held.target;
  await checkOfflineReveal(held, now);
  const assignment = await revealable(assignmentId);
  let target;
  try {
    target = await openWithCode(assignment.envelope, code, assignment.uuid);
  } catch (error) {
    throw envelopeFailure(error);
  }
  return keepReveal(assignment, target, "code");
}

/** Open the envelope with the key the server releases (online, audited there). */
export async function revealOnline(assignmentId) {
  const assignment = await revealable(assignmentId);
  if (assignment.target) return assignment.target;
  const answer = await requestJson("POST", `/api/v1/assignments/${assignment.id}/reveal`);
  if (!answer || typeof answer.key !== "string" || !answer.key) {
    throw new FieldError("服务器的回答中没有密钥，未揭封。");
  }
  let target;
  try {
    target = await openWithKey(assignment.envelope, answer.key, assignment.uuid);
  } catch (error) {
    throw envelopeFailure(error);
  }
  return keepReveal(assignment, target, "online", answer.key);
}

function checkedPosition(position) {
  if (position == null) return null;
  if (!hasPosition(position)) throw new FieldError("定位数据无效：纬度应在 -90–90，经度应在 -180–180。");
  const accuracy = typeof position.accuracy === "number" && Number.isFinite(position.accuracy)
    ? position.accuracy : null;
  return { latitude: position.latitude, longitude: position.longitude, accuracy };
}

/** Check in at the venue: the inspection starts now, here (position may be null). */
export async function checkIn(assignmentId, position) {
  const assignment = await requireAssignment(assignmentId);
  if (!assignment.target) throw new FieldError("请先揭封任务，再签到。");
  const point = checkedPosition(position);
  const moment = nowUtc();
  const radius = checkinRadius(assignment);
  const { distance_m: distance, far } = distanceToVenue(point, assignment.target, radius);
  const late = outsideWindow(assignment);
  const uuid = newUuid();
  const payload = {
    uuid, assignment_uuid: assignment.uuid, checked_in_at: moment, latitude: point?.latitude ?? null,
    longitude: point?.longitude ?? null, device_time: moment, status: "draft",
  };
  const inspection = {
    ...payload, submitted_at: null, accuracy: point?.accuracy ?? null, distance_m: distance, far,
    radius_m: radius, outside_window: late, server_status: null,
  };
  const change = new Change();
  change.step("inspections", async (tx) => {
    const held = await tx.objectStore("inspections").index("assignment_uuid").get(assignment.uuid);
    if (held) throw new FieldError("该任务已签到。");
  });
  change.put("inspections", inspection);
  change.enqueue("inspection", uuid, payload);
  await change.commit();
  return { inspection, distance_m: distance, far, outsideWindow: late };
}

// --- the record --------------------------------------------------------------------------------

/**
 * Store observations, evaluate, and keep the violated checks as findings (evaluator-made).
 * Findings of checks no longer violated after a correction are withdrawn, not deleted: the
 * server may already hold them.
 */
export async function recordObservations(inspectionUuid, values) {
  const { inspection, target } = await openInspection(inspectionUuid);
  const rules = await rulesFor(target);
  if (!rules.length) throw new FieldError("该场所类别没有适用的规则。");
  const checked = checkedValues(rules, values);
  const moment = nowUtc();
  const observations = { ...(await observationsOf(inspection.uuid)), ...checked };
  const results = evaluate(rules, venueFacts(target), observations);
  const violated = new Map();
  for (const result of results) {
    for (const check of result.checks || []) {
      if (check.outcome === VIOLATION) violated.set(`${result.code}\u0000${check.code}`, [result.code, check]);
    }
  }
  const existing = new Map();
  for (const row of await allByIndex("findings", "inspection_uuid", inspection.uuid)) {
    if (row.source === "evaluator" && !row.withdrawn_at) existing.set(`${row.rule_code}\u0000${row.check_code}`, row);
  }
  const change = new Change();
  guardDraft(change, inspection.uuid);
  for (const [code, value] of Object.entries(checked)) {
    change.put("observations", { inspection_uuid: inspection.uuid, item_code: code, value, recorded_at: moment });
    change.enqueue("observation", `${inspection.uuid}/${code}`,
      { inspection_uuid: inspection.uuid, item_code: code, value, recorded_at: moment });
  }
  for (const [key, [ruleCode, check]] of violated) {
    if (existing.has(key)) continue;
    const payload = {
      uuid: newUuid(), inspection_uuid: inspection.uuid, rule_code: ruleCode, check_code: check.code,
      description: check.description, source: "evaluator", created_at: moment,
    };
    change.put("findings", { ...payload, withdrawn_at: null });
    change.enqueue("finding", payload.uuid, payload);
  }
  for (const [key, row] of existing) {
    if (violated.has(key)) continue;
    change.put("findings", { ...row, withdrawn_at: moment });
    change.enqueue("finding_withdrawal", row.uuid, { finding_uuid: row.uuid, withdrawn_at: moment });
  }
  await change.commit();
  return results;
}

/** In the transaction: the inspection is still a draft (another tab may have submitted it). */
function guardDraft(change, inspectionUuid) {
  change.step("inspections", async (tx) => {
    const held = await tx.objectStore("inspections").get(inspectionUuid);
    if (!held || held.status !== "draft") throw new FieldError("该督查记录已提交，不能再修改。");
  });
}

function checkedDescription(description) {
  const text = String(description ?? "").trim();
  if (!text) throw new FieldError("问题描述不能为空。");
  if (text.length > 2000) throw new FieldError("问题描述不能超过 2000 字。");
  return text;
}

function checkedRuleCode(rules, ruleCode) {
  const code = String(ruleCode ?? "").trim().toUpperCase();
  if (!rules.some((rule) => rule.code === code)) {
    const options = rules.map((rule) => `“${rule.title || rule.code}”`).join("、") || "无";
    throw new FieldError(`所选规则不适用于该场所；可选：${options}。`);
  }
  return code;
}

/** A finding recorded by hand (what the checklist could not decide). */
export async function addFinding(inspectionUuid, ruleCode, description) {
  const { inspection, target } = await openInspection(inspectionUuid);
  const rules = await rulesFor(target);
  const payload = {
    uuid: newUuid(), inspection_uuid: inspection.uuid, rule_code: checkedRuleCode(rules, ruleCode), check_code: null,
    description: checkedDescription(description), source: "manual", created_at: nowUtc(),
  };
  const change = new Change();
  guardDraft(change, inspection.uuid);
  change.put("findings", { ...payload, withdrawn_at: null });
  change.enqueue("finding", payload.uuid, payload);
  await change.commit();
  return payload.uuid;
}

async function activeFinding(findingUuid, inspectionUuid = null) {
  const finding = await (await database()).get("findings", String(findingUuid ?? ""));
  if (!finding || finding.withdrawn_at || (inspectionUuid && finding.inspection_uuid !== inspectionUuid)) {
    throw new FieldError("找不到该问题（可能已撤回）。");
  }
  return finding;
}

// --- photos ------------------------------------------------------------------------------------

const EXIF_FIELDS = ["DateTimeOriginal", "DateTime", "Orientation", "GPSLatitude", "GPSLatitudeRef",
  "GPSLongitude", "GPSLongitudeRef"];
const HEIF_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"]);

/** (extension, media type) from the bytes themselves; the server allows JPEG, PNG, HEIC only. */
export function sniffImage(bytes) {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return ["jpg", "image/jpeg"];
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((byte, index) => bytes[index] === byte)) return ["png", "image/png"];
  if (bytes.length >= 12 && String.fromCharCode(...bytes.slice(4, 8)) === "ftyp"
    && HEIF_BRANDS.has(String.fromCharCode(...bytes.slice(8, 12)))) return ["heic", "image/heic"];
  return null;
}

function roundCoordinate(value, limit) {
  if (typeof value !== "number" || !Number.isFinite(value) || Math.abs(value) > limit) return null;
  return Math.round(value * 1e7) / 1e7;
}

/** EXIF time (as written in the file), GPS and orientation; nulls when absent or unreadable. */
async function exifFacts(buffer) {
  const facts = { exif_time: null, latitude: null, longitude: null, orientation: null };
  let tags;
  try {
    tags = await exifr.parse(buffer, { gps: true, pick: EXIF_FIELDS, reviveValues: false, translateValues: false });
  } catch {
    return facts; // no EXIF, or a file exifr cannot read: the photo is evidence all the same
  }
  if (!tags) return facts;
  const taken = tags.DateTimeOriginal ?? tags.DateTime;
  if (typeof taken === "string" && taken.trim()) facts.exif_time = taken.trim().slice(0, 32);
  if (Number.isInteger(tags.Orientation) && tags.Orientation >= 1 && tags.Orientation <= 8) {
    facts.orientation = tags.Orientation;
  }
  facts.latitude = roundCoordinate(tags.latitude, 90);
  facts.longitude = roundCoordinate(tags.longitude, 180);
  if (facts.latitude === null || facts.longitude === null) facts.latitude = facts.longitude = null;
  return facts;
}

/** A small preview for the screens (never sent, never evidence); null where it cannot be made. */
async function makeThumbnail(blob, orientation) {
  if (typeof createImageBitmap !== "function" || typeof OffscreenCanvas !== "function") return null;
  try {
    const bitmap = await createImageBitmap(blob, { imageOrientation: "from-image" });
    const scale = Math.min(1, 320 / Math.max(bitmap.width, bitmap.height));
    const canvas = new OffscreenCanvas(Math.max(1, Math.round(bitmap.width * scale)),
      Math.max(1, Math.round(bitmap.height * scale)));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close?.();
    void orientation; // createImageBitmap already applied it ("from-image")
    return await canvas.convertToBlob({ type: "image/jpeg", quality: 0.7 });
  } catch {
    return null; // e.g. HEIC where the browser cannot decode it
  }
}

/** Keep a photo: the original bytes untouched (a Blob), with its hash and EXIF facts. */
export async function addPhoto(inspectionUuid, fileOrBlob, { findingUuid = null, caption = null } = {}) {
  const { inspection, target, assignment } = await openInspection(inspectionUuid);
  if (!fileOrBlob || typeof fileOrBlob.arrayBuffer !== "function") throw new FieldError("没有选择照片。");
  if (findingUuid) await activeFinding(findingUuid, inspection.uuid);
  const text = caption == null ? null : String(caption).trim() || null;
  if (text && text.length > 2000) throw new FieldError("照片说明不能超过 2000 字。");
  const buffer = await fileOrBlob.arrayBuffer();
  const bytes = new Uint8Array(buffer);
  if (!bytes.length) throw new FieldError("照片文件是空的。");
  const sniffed = sniffImage(bytes);
  const name = typeof fileOrBlob.name === "string" && fileOrBlob.name ? fileOrBlob.name.slice(0, 255) : null;
  if (!sniffed) throw new FieldError(`${name ?? "该文件"}不是可识别的照片（只接受 JPEG、PNG、HEIC）。`);
  const [extension, mediaType] = sniffed;
  const sha256 = await sha256Hex(buffer);
  const facts = await exifFacts(buffer);
  // The stored Blob is a copy of the original bytes (the picked file may change or vanish),
  // typed by its content: never re-encoded.
  const blob = new Blob([bytes], { type: mediaType });
  const thumbnail = await makeThumbnail(blob, facts.orientation);
  const payload = {
    uuid: newUuid(), inspection_uuid: inspection.uuid, finding_uuid: findingUuid || null, sha256, size: bytes.length,
    filename: `${sha256}.${extension}`, original_name: name ?? `${sha256.slice(0, 12)}.${extension}`,
    media_type: mediaType, caption: text, ...facts, created_at: nowUtc(),
  };
  const { distance_m: distance, far } = distanceToVenue(facts, target, checkinRadius(assignment));
  // added_ms (local only): photos picked together share a created_at second; they stay in order.
  const row = { ...payload, blob, thumbnail, distance_m: distance, far, added_ms: Date.now() };
  const change = new Change();
  guardDraft(change, inspection.uuid);
  change.put("photos", row);
  change.enqueue("photo", payload.uuid, payload);
  await change.commit();
  return row;
}

// --- penalties ---------------------------------------------------------------------------------

function yuan(value) {
  return Number(value).toLocaleString("zh-CN", { maximumFractionDigits: 2 });
}

function validity(record) {
  return `${record.valid_from} 至 ${record.valid_to ?? "今"}`;
}

function citation(basis) {
  return `《${basis.law ?? "法律依据"}》${basis.article ?? ""}`;
}

/** The allowed fine range of a basis on a day: benchmarks in force, within the statutory maximum. */
export function fineRange(basis, day) {
  const statutory = [basis.max_fine_unit, basis.max_fine_individual].filter((v) => v != null).map(Number);
  const ceiling = statutory.length ? Math.max(...statutory) : null;
  const benchmarks = (basis.benchmarks || []).filter((b) => inForce(b, day) && (b.penalty_types || []).includes("fine")
    && b.max_fine != null);
  if (!benchmarks.length) return ceiling === null ? null : { min: 0, max: ceiling };
  const min = Math.min(...benchmarks.map((b) => Number(b.min_fine ?? 0)));
  let max = Math.max(...benchmarks.map((b) => Number(b.max_fine)));
  if (ceiling !== null) max = Math.min(max, ceiling);
  return { min, max };
}

/** Checks a proposed penalty as the phone can: type, amount, and the basis on the visit day. */
export function checkPenalty(assignment, { type, amount = null, basisCode = null }, legalBases, available = true) {
  if (!assignment.may_propose_penalties) throw new FieldError("该任务不允许提出处罚建议（组内无持执法证人员）。");
  if (!Object.prototype.hasOwnProperty.call(PENALTY_TYPES, type)) {
    throw new FieldError("处罚种类应为警告、罚款或责令停业整顿。");
  }
  let value = amount === "" || amount === undefined ? null : amount;
  if (type === "fine") {
    value = typeof value === "string" ? Number(value.trim()) : value;
    if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
      throw new FieldError("罚款须填写大于 0 的整数金额（元）。");
    }
  } else if (value !== null) {
    throw new FieldError(`${PENALTY_TYPES[type]}不需要填写金额。`);
  }
  const code = basisCode == null ? null : String(basisCode).trim() || null;
  if (code && available && legalBases.length) {
    const day = assignment.visit_date || shanghaiDate();
    const versions = legalBases.filter((basis) => basis.code === code || basis.provision === code);
    if (!versions.length) throw new FieldError("本机没有所选的法律依据；请核对后重选，或联网下载任务后再试。");
    const basis = versions.find((candidate) => inForce(candidate, day));
    if (!basis) {
      const successor = legalBases.find((candidate) => candidate.provision === versions[0].provision
        && inForce(candidate, day));
      throw new FieldError(`${citation(versions[0])}（有效期 ${validity(versions[0])}）在督查当日（${day}）不在有效期内`
        + `${successor ? `，请改选当日有效的版本（有效期 ${validity(successor)}）` : ""}。`);
    }
    const allowed = basis.penalty_types || [];
    const legalType = type === "suspend" ? "suspend" : type;
    if (allowed.length && !allowed.includes(legalType)) {
      const labels = { warning: "警告", fine: "罚款", suspend: "责令停产停业", detention: "行政拘留", order_correction: "责令改正" };
      throw new FieldError(`${citation(basis)}不规定${PENALTY_TYPES[type]}；该条款规定的处罚为：`
        + `${allowed.map((t) => labels[t] ?? t).join("、")}。`);
    }
    if (type === "fine") {
      const range = fineRange(basis, day);
      if (range === null) throw new FieldError(`${citation(basis)}没有罚款幅度，不能据此罚款。`);
      if (value < range.min || value > range.max) {
        throw new FieldError(`依据${citation(basis)}（有效期 ${validity(basis)}），罚款幅度为 `
          + `${yuan(range.min)}–${yuan(range.max)} 元；拟罚 ${yuan(value)} 元超出该范围。`);
      }
    }
    return { type, amount: value, basis_code: basis.code };
  }
  return { type, amount: value, basis_code: code };
}

async function penaltyContext() {
  const db = await database();
  const [legalBases, available] = await Promise.all([db.getAll("legal_bases"), db.get("meta", "legal_bases_available")]);
  return { legalBases, available: available ? available.value !== false : true };
}

/** Propose a penalty for a finding. */
export async function addPenalty(findingUuid, { type, amount = null, basisCode = null } = {}) {
  const finding = await activeFinding(findingUuid);
  const { inspection, assignment } = await openInspection(finding.inspection_uuid);
  const { legalBases, available } = await penaltyContext();
  const checked = checkPenalty(assignment, { type, amount, basisCode }, legalBases, available);
  const payload = { uuid: newUuid(), finding_uuid: finding.uuid, ...checked, created_at: nowUtc() };
  const change = new Change();
  guardDraft(change, inspection.uuid);
  change.put("penalties", { ...payload, inspection_uuid: inspection.uuid, withdrawn_at: null });
  change.enqueue("penalty", payload.uuid, payload);
  await change.commit();
  return payload.uuid;
}

// --- notes and signatures ----------------------------------------------------------------------

function checkedNote(kind, text) {
  if (!Object.prototype.hasOwnProperty.call(NOTE_KINDS, kind)) throw new FieldError("典型类别应为正面或反面。");
  const body = String(text ?? "").trim();
  if (!body) throw new FieldError("说明文字不能为空。");
  if (body.length > 5000) throw new FieldError("说明文字不能超过 5000 字。");
  return body;
}

/** A positive or negative example for publicity. */
export async function addNote(inspectionUuid, kind, text) {
  const { inspection } = await openInspection(inspectionUuid);
  const payload = { uuid: newUuid(), inspection_uuid: inspection.uuid, kind, text: checkedNote(kind, text), created_at: nowUtc() };
  const change = new Change();
  guardDraft(change, inspection.uuid);
  change.put("notes", { ...payload, withdrawn_at: null });
  change.enqueue("note", payload.uuid, payload);
  await change.commit();
  return payload.uuid;
}

function base64(bytes) {
  let binary = "";
  for (let start = 0; start < bytes.length; start += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(start, start + 0x8000));
  }
  return btoa(binary);
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
export const SIGNATURE_PNG_MAX = 256 * 1024; // the server refuses a larger signature image

/**
 * A signature on site (`png`: the handwriting as a PNG Blob) or a refusal to sign with the
 * witness note; checked here as the server will, so it is not refused after the visit.
 */
export async function addSignature(inspectionUuid, { role, signerName, png = null, refused = false, witnessNote = null } = {}) {
  const { inspection } = await openInspection(inspectionUuid);
  if (!Object.prototype.hasOwnProperty.call(SIGNATURE_ROLES, role)) throw new FieldError("签字人身份应为督查人员或被检查场所负责人。");
  const name = String(signerName ?? "").trim();
  if (name.length < 1 || name.length > 64) throw new FieldError("签字人姓名须为 1–64 个字符。");
  const note = refused && witnessNote != null ? String(witnessNote).trim() || null : null;
  let pngBase64 = null;
  let pngSha256 = null;
  let image = null;
  if (refused) {
    if (!note) throw new FieldError("拒绝签字须写明见证情况（如见证人和经过）。");
    if (note.length > 500) throw new FieldError("见证情况不能超过 500 个字符。");
  } else {
    if (!png || typeof png.arrayBuffer !== "function") throw new FieldError("请先签字。");
    const bytes = new Uint8Array(await png.arrayBuffer());
    if (bytes.length > SIGNATURE_PNG_MAX) throw new FieldError("签名图片过大，请清除后重新签字。");
    if (!PNG_MAGIC.every((byte, index) => bytes[index] === byte)) throw new FieldError("签名图片须为 PNG 格式。");
    pngBase64 = base64(bytes);
    pngSha256 = await sha256Hex(bytes);
    image = new Blob([bytes], { type: "image/png" });
  }
  const payload = {
    uuid: newUuid(), inspection_uuid: inspection.uuid, role, signer_name: name, signed_at: nowUtc(),
    refused: Boolean(refused), witness_note: note, png_base64: pngBase64, png_sha256: pngSha256,
  };
  const change = new Change();
  guardDraft(change, inspection.uuid);
  change.put("signatures", { ...payload, png: image });
  change.enqueue("signature", payload.uuid, payload);
  await change.commit();
  return payload.uuid;
}

// --- submission and amendments -----------------------------------------------------------------

/** Submit the record; afterwards only amendments change it. */
export async function submit(inspectionUuid) {
  const { inspection } = await openInspection(inspectionUuid);
  const moment = nowUtc();
  const change = new Change();
  change.step("inspections", async (tx) => {
    const store = tx.objectStore("inspections");
    const held = await store.get(inspection.uuid);
    // The status guard makes a second submit (another tab, a double tap) change nothing.
    if (held.status !== "draft") throw new FieldError("该督查记录已提交。");
    await store.put({ ...held, status: "submitted", submitted_at: moment });
  });
  change.enqueue("inspection_submission", inspection.uuid,
    { inspection_uuid: inspection.uuid, submitted_at: moment, device_time: moment });
  await change.commit();
  return moment;
}

function uuidList(value, label) {
  if (value == null) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string" && UUID_PATTERN.test(item))) {
    throw new FieldError(`更正内容中“${label}”格式不正确。`);
  }
  return [...new Set(value)];
}

function objectList(value, label) {
  if (value == null) return [];
  if (!Array.isArray(value) || !value.every((item) => item && typeof item === "object" && !Array.isArray(item))) {
    throw new FieldError(`更正内容中“${label}”格式不正确。`);
  }
  return value;
}

function itemUuid(item) {
  if (item.uuid == null) return newUuid();
  if (typeof item.uuid !== "string" || !UUID_PATTERN.test(item.uuid)) throw new FieldError("更正内容中的编号格式不正确。");
  return item.uuid.toLowerCase();
}

/**
 * Append a correction to a submitted record, with a reason. `changes` uses the server's contract
 * (observations, findings/penalties/notes added and withdrawn); the local rows then show the
 * corrected state. `settles` names refused operations this amendment answers.
 */
export async function amend(inspectionUuid, reason, changes = {}, settles = []) {
  const { inspection, assignment, target } = await openInspection(inspectionUuid, { forAmendment: true });
  const why = String(reason ?? "").trim();
  if (!why) throw new FieldError("更正须写明原因。");
  if (why.length > 2000) throw new FieldError("更正原因不能超过 2000 字。");
  if (!changes || typeof changes !== "object" || Array.isArray(changes)) throw new FieldError("更正内容格式不正确。");
  const unknown = Object.keys(changes).filter((key) => !AMENDMENT_KEYS.includes(key));
  if (unknown.length) throw new FieldError(`更正内容包含无法识别的项目：${unknown.join("、")}。`);
  const db = await database();
  const rules = await rulesFor(target);
  const observations = checkedValues(rules, changes.observations ?? {});

  const findings = await db.getAllFromIndex("findings", "inspection_uuid", inspection.uuid);
  const activeFindings = new Map(findings.filter((row) => !row.withdrawn_at).map((row) => [row.uuid, row]));
  const findingsAdded = objectList(changes.findings_added, "新增问题").map((item) => ({
    uuid: itemUuid(item), rule_code: checkedRuleCode(rules, item.rule_code), description: checkedDescription(item.description),
  }));
  const findingsWithdrawn = uuidList(changes.findings_withdrawn, "撤回问题");
  for (const uuid of findingsWithdrawn) {
    if (!activeFindings.has(uuid)) throw new FieldError("要撤回的问题不在该记录中或已撤回。");
  }
  const knownFindings = new Set([...activeFindings.keys(), ...findingsAdded.map((item) => item.uuid)]);
  const { legalBases, available } = await penaltyContext();
  const penaltiesAdded = objectList(changes.penalties_added, "新增处罚建议").map((item) => {
    const findingUuid = String(item.finding_uuid ?? "").toLowerCase();
    if (!knownFindings.has(findingUuid) || findingsWithdrawn.includes(findingUuid)) {
      throw new FieldError("处罚建议所针对的问题不在该记录中。");
    }
    const checked = checkPenalty(assignment, { type: item.type, amount: item.amount ?? null, basisCode: item.basis_code ?? null },
      legalBases, available);
    return { uuid: itemUuid(item), finding_uuid: findingUuid, ...checked };
  });
  const penalties = await db.getAllFromIndex("penalties", "inspection_uuid", inspection.uuid);
  const activePenalties = new Map(penalties.filter((row) => !row.withdrawn_at).map((row) => [row.uuid, row]));
  const penaltiesWithdrawn = uuidList(changes.penalties_withdrawn, "撤回处罚建议");
  for (const uuid of penaltiesWithdrawn) {
    if (!activePenalties.has(uuid)) throw new FieldError("要撤回的处罚建议不在该记录中或已撤回。");
  }
  const notesAdded = objectList(changes.notes_added, "新增典型材料").map((item) => ({
    uuid: itemUuid(item), kind: item.kind, text: checkedNote(item.kind, item.text),
  }));
  const notes = await db.getAllFromIndex("notes", "inspection_uuid", inspection.uuid);
  const activeNotes = new Map(notes.filter((row) => !row.withdrawn_at).map((row) => [row.uuid, row]));
  const notesWithdrawn = uuidList(changes.notes_withdrawn, "撤回典型材料");
  for (const uuid of notesWithdrawn) {
    if (!activeNotes.has(uuid)) throw new FieldError("要撤回的典型材料不在该记录中或已撤回。");
  }

  const refused = await unsettledRefusals();
  const settling = [...new Set((settles || []).map(String))];
  for (const opId of settling) {
    if (!refused.some((row) => row.op_id === opId)) throw new FieldError("要答复的被拒记录不存在或已处理。");
  }

  // Only the parts given: every part of the server's amendment contract is optional.
  const body = {};
  if (changes.observations !== undefined) body.observations = observations;
  if (findingsAdded.length) body.findings_added = findingsAdded;
  if (findingsWithdrawn.length) body.findings_withdrawn = findingsWithdrawn;
  if (penaltiesAdded.length) body.penalties_added = penaltiesAdded;
  if (penaltiesWithdrawn.length) body.penalties_withdrawn = penaltiesWithdrawn;
  if (notesAdded.length) body.notes_added = notesAdded;
  if (notesWithdrawn.length) body.notes_withdrawn = notesWithdrawn;

  const moment = nowUtc();
  const uuid = newUuid();
  const payload = { uuid, inspection_uuid: inspection.uuid, reason: why, payload: body, created_at: moment };
  const change = new Change();
  const opId = change.enqueue("amendment", uuid, payload);
  change.put("amendments", { ...payload, op_id: opId });
  // The local rows show the corrected state; the amendment itself is what the server receives.
  for (const [code, value] of Object.entries(observations)) {
    change.put("observations", { inspection_uuid: inspection.uuid, item_code: code, value, recorded_at: moment, amendment_uuid: uuid });
  }
  for (const item of findingsAdded) {
    change.put("findings", { ...item, inspection_uuid: inspection.uuid, check_code: null, source: "manual", created_at: moment,
      withdrawn_at: null, amendment_uuid: uuid });
  }
  for (const id of findingsWithdrawn) change.put("findings", { ...activeFindings.get(id), withdrawn_at: moment, withdrawn_by: uuid });
  for (const item of penaltiesAdded) {
    change.put("penalties", { ...item, inspection_uuid: inspection.uuid, created_at: moment, withdrawn_at: null, amendment_uuid: uuid });
  }
  for (const id of penaltiesWithdrawn) change.put("penalties", { ...activePenalties.get(id), withdrawn_at: moment, withdrawn_by: uuid });
  for (const item of notesAdded) {
    change.put("notes", { ...item, inspection_uuid: inspection.uuid, created_at: moment, withdrawn_at: null, amendment_uuid: uuid });
  }
  for (const id of notesWithdrawn) change.put("notes", { ...activeNotes.get(id), withdrawn_at: moment, withdrawn_by: uuid });
  if (settling.length) {
    change.step("outbox", async (tx) => {
      const index = tx.objectStore("outbox").index("op_id");
      for (const refusedOpId of settling) {
        const row = await index.get(refusedOpId);
        if (!row || row.state !== "failed" || row.settled_at) throw new FieldError("要答复的被拒记录不存在或已处理。");
        await tx.objectStore("outbox").put({ ...row, settled_by: opId });
      }
    });
  }
  await change.commit();
  return uuid;
}

/** Operations the server refused and nothing has settled yet, with the server's reason. */
export async function refusedOperations() {
  return (await unsettledRefusals()).map((row) => ({
    op_id: row.op_id, entity: row.entity, entity_id: row.entity_id, reason: row.last_error, created_at: row.created_at,
  }));
}

