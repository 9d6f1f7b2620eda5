// Where the inspector is: the phone's position, its distance to the venue, and the visit window.
//
// Distances are advice for the inspector (a check-in or a photo far from the venue is flagged,
// never refused): GPS indoors is often off by a few hundred metres, and the server keeps the raw
// coordinates for the office to judge.

/** Check-in radius when neither the assignment nor the rules give one (metres). */
export const DEFAULT_CHECKIN_RADIUS_M = 300;
const EARTH_RADIUS_M = 6_371_008.8; // mean radius (IUGG)

function isCoordinate(value, limit) {
  return typeof value === "number" && Number.isFinite(value) && Math.abs(value) <= limit;
}

export function hasPosition(point) {
  return Boolean(point) && isCoordinate(point.latitude, 90) && isCoordinate(point.longitude, 180);
}

/** Great-circle distance in metres between two {latitude, longitude}; null if either is missing. */
export function haversineMeters(a, b) {
  if (!hasPosition(a) || !hasPosition(b)) return null;
  const rad = Math.PI / 180;
  const dLat = (b.latitude - a.latitude) * rad;
  const dLon = (b.longitude - a.longitude) * rad;
  const h = Math.sin(dLat / 2) ** 2
    + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The check-in radius that applies to an assignment: the server's when it sends one. */
export function checkinRadius(assignment, rulesMeta = null) {
  for (const candidate of [assignment?.checkin_radius_m, rulesMeta?.checkin_radius_m]) {
    if (typeof candidate === "number" && Number.isFinite(candidate) && candidate > 0) return candidate;
  }
  return DEFAULT_CHECKIN_RADIUS_M;
}

/** Distance from `point` to the venue, and whether it is beyond the radius. */
export function distanceToVenue(point, target, radius = DEFAULT_CHECKIN_RADIUS_M) {
  const distance = haversineMeters(point, target);
  if (distance === null) return { distance_m: null, far: false };
  return { distance_m: Math.round(distance), far: distance > radius };
}

/** A server time as a Date: the server stores UTC, so a time without an offset is UTC. */
export function parseServerTime(text) {
  if (typeof text !== "string" || !text) return null;
  const withZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(text) || !text.includes("T") ? text : `${text}Z`;
  const date = new Date(withZone);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Whether `now` lies outside the assignment's visit window (false when there is no window). */
export function outsideWindow(assignment, now = new Date()) {
  const start = parseServerTime(assignment?.window_start);
  const end = parseServerTime(assignment?.window_end);
  if (start && now < start) return true;
  if (end && now > end) return true;
  return false;
}

/**
 * Whether an offline reveal now falls outside the assignment's window widened by the server's
 * clock tolerance (seconds), by this phone's clock: "before", "after", or null (inside, or no
 * window known — the server checks the reveal when it syncs either way).
 */
export function revealWindowSide(assignment, toleranceSeconds = 0, now = new Date()) {
  const tolerance = Number.isInteger(toleranceSeconds) && toleranceSeconds > 0 ? toleranceSeconds * 1000 : 0;
  const start = parseServerTime(assignment?.window_start);
  const end = parseServerTime(assignment?.window_end);
  if (start && now.getTime() < start.getTime() - tolerance) return "before";
  if (end && now.getTime() >= end.getTime() + tolerance) return "after";
  return null;
}

/**
 * The phone's position now: {latitude, longitude, accuracy} or null (no GPS, refused, or too
 * slow). Never throws: a check-in without a position is still a check-in.
 */
export function currentPosition({ timeout = 15_000, maximumAge = 30_000 } = {}) {
  const geolocation = globalThis.navigator?.geolocation;
  if (!geolocation) return Promise.resolve(null);
  return new Promise((resolve) => {
    geolocation.getCurrentPosition(
      (position) => resolve({
        latitude: position.coords.latitude,
        longitude: position.coords.longitude,
        accuracy: position.coords.accuracy,
      }),
      () => resolve(null),
      { enableHighAccuracy: true, timeout, maximumAge },
    );
  });
}
