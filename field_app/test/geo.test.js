// Distances and the visit window (advice for the inspector, never a refusal).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DEFAULT_CHECKIN_RADIUS_M, checkinRadius, distanceToVenue, haversineMeters, outsideWindow, parseServerTime, revealWindowSide,
} from "../src/geo.js";

test("haversine distances", () => {
  assert.equal(haversineMeters({ latitude: 29.08, longitude: 119.65 }, { latitude: 29.08, longitude: 119.65 }), 0);
  // One degree of latitude is ~111.2 km on the mean sphere.
  const degree = haversineMeters({ latitude: 0, longitude: 0 }, { latitude: 1, longitude: 0 });
  assert.ok(Math.abs(degree - 111_195) < 5, String(degree));
  // 金华 → 杭州 (about 150 km as the crow flies).
  const far = haversineMeters({ latitude: 29.0790, longitude: 119.6474 }, { latitude: 30.2741, longitude: 120.1551 });
  assert.ok(far > 140_000 && far < 150_000, String(far));
  assert.equal(haversineMeters(null, { latitude: 1, longitude: 1 }), null);
  assert.equal(haversineMeters({ latitude: 1 }, { latitude: 1, longitude: 1 }), null);
});

test("check-in radius: the server's when given, else 300 m", () => {
  assert.equal(DEFAULT_CHECKIN_RADIUS_M, 300);
  assert.equal(checkinRadius({}), 300);
  assert.equal(checkinRadius({ checkin_radius_m: 500 }), 500);
  assert.equal(checkinRadius({ checkin_radius_m: null }), 300);
  const venue = { latitude: 29.0, longitude: 119.0 };
  // ~333 m north.
  const point = { latitude: 29.003, longitude: 119.0 };
  assert.deepEqual(distanceToVenue(point, venue, 300), { distance_m: 334, far: true });
  assert.deepEqual(distanceToVenue(point, venue, 500), { distance_m: 334, far: false });
  assert.deepEqual(distanceToVenue(null, venue), { distance_m: null, far: false });
  assert.deepEqual(distanceToVenue(point, { latitude: null, longitude: null }), { distance_m: null, far: false });
});

test("the visit window (server times are UTC)", () => {
  const assignment = { window_start: "2026-12-03T01:00:00", window_end: "2026-12-03T05:00:00+00:00" };
  assert.equal(parseServerTime("2026-12-03T01:00:00").toISOString(), "2026-12-03T01:00:00.000Z");
  assert.equal(outsideWindow(assignment, new Date("2026-12-03T02:00:00Z")), false);
  assert.equal(outsideWindow(assignment, new Date("2026-12-03T00:59:00Z")), true);
  assert.equal(outsideWindow(assignment, new Date("2026-12-03T05:01:00Z")), true);
  assert.equal(outsideWindow({}, new Date()), false);
});

test("the offline reveal window: [start, end) widened by the server's tolerance", () => {
  const assignment = { window_start: "2026-12-03T01:00:00Z", window_end: "2026-12-03T05:00:00+00:00" };
  assert.equal(revealWindowSide(assignment, 0, new Date("2026-12-03T00:59:59Z")), "before");
  assert.equal(revealWindowSide(assignment, 0, new Date("2026-12-03T01:00:00Z")), null);
  assert.equal(revealWindowSide(assignment, 0, new Date("2026-12-03T05:00:00Z")), "after");
  assert.equal(revealWindowSide(assignment, 600, new Date("2026-12-03T00:50:00Z")), null);
  assert.equal(revealWindowSide(assignment, 600, new Date("2026-12-03T00:49:59Z")), "before");
  assert.equal(revealWindowSide(assignment, 600, new Date("2026-12-03T05:09:59Z")), null);
  assert.equal(revealWindowSide(assignment, 600, new Date("2026-12-03T05:10:00Z")), "after");
  // No tolerance given yet (null), or a nonsense one: the window itself.
  assert.equal(revealWindowSide(assignment, null, new Date("2026-12-03T00:59:00Z")), "before");
  assert.equal(revealWindowSide(assignment, -5, new Date("2026-12-03T00:59:00Z")), "before");
  assert.equal(revealWindowSide({}, 0, new Date()), null);
});
