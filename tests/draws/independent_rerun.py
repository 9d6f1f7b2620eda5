"""Re-run an exported draw from the text of docs/draw-algorithm.md and docs/draw-export.md alone.

    python -I independent_rerun.py EXPORT_DIR

Standard library only, nothing from the project: this is what an outside checker would write
from the documents. It checks the commitment, how the seed is formed, the digests of the exported
files, and the selection (§5–§8) against the anchored result digest. It prints one line per
check and `match` or `mismatch` last; the exit code is 0 on a match and 1 otherwise.

A redacted export (draw.json `redacted: true`) gives the inspector snapshot without the visits of
assignments still sealed and with `repeat_blocked` instead; its inspector digest check waits for a
full export and is printed as `pending`.
"""

import hashlib
import hmac
import json
import sys
from datetime import date
from pathlib import Path


def canonical(value) -> bytes:
    """§2: keys sorted, no whitespace, non-ASCII as itself."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def int_be(data: bytes) -> int:
    return int.from_bytes(data, "big")


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def combined_seed(office_seed: bytes, contribution) -> bytes:
    """HMAC-SHA256(key = office seed, message = UTF-8("anfang-draw-seed:" + contribution));
    a draw without a contribution uses the office's seed."""
    if contribution is None:
        return office_seed
    return hmac_sha256(office_seed, ("anfang-draw-seed:" + contribution).encode("utf-8"))


def weight(venue: dict, weights: dict) -> int:
    """§5."""
    w = weights["categories"][venue["category"]]
    if venue["past_violations"] > 0:
        w *= weights["past_violations_factor"]
    if not venue["inspected"]:
        w *= weights["never_inspected_factor"]
    return w


def ordinal(iso: str) -> int:
    return date.fromisoformat(iso).toordinal()


def repeat_ok(x: dict, venue_id: int, day: str, pick: int, repeat_days: int) -> bool:
    """§7.3: no visit to the venue less than N days before or after. A redacted export lists, in
    `repeat_blocked`, the picks at which a withheld visit blocks the inspector (docs/draw-export.md)."""
    if repeat_days <= 0:
        return True
    if pick in x.get("repeat_blocked", []):
        return False
    return all(abs(ordinal(day) - ordinal(e)) >= repeat_days for v, e in x["visits"] if v == venue_id)


def rerun(seed: bytes, parameters: dict, venues: list, inspectors: list) -> dict:
    """§6–§8: the canonical result, or {"infeasible": ...} when the venues run out."""
    size = parameters["sample"]["size"]
    team_size = parameters["team"]["size"]
    certified_needed = parameters["team"]["require_certified_member"] and parameters["team"]["may_propose_penalties"]
    days = parameters["window"]["days"]
    rules = parameters["exclusions"]
    repeat_days = rules["repeat_visit_days"]
    per_day = rules["max_assignments_per_inspector_per_day"]
    responsible = parameters["responsible_departments"]

    ordered = sorted(venues, key=lambda v: v["id"])
    w = [weight(v, parameters["weights"]) for v in ordered]
    total = sum(w)
    key = {x["id"]: int_be(hmac_sha256(seed, ("inspector:" + str(x["id"])).encode("ascii"))) for x in inspectors}
    load = {x["id"]: 0 for x in inspectors}
    count = {}
    for x in inspectors:
        for day, n in x["booked"]:
            count[(x["id"], day)] = n

    assignments, skipped = [], []
    k = 0
    while len(assignments) < size and total > 0:
        k += 1
        r = int_be(hmac_sha256(seed, ("venue-pick:" + str(k)).encode("ascii"))) % total
        running = 0
        for i, wi in enumerate(w):
            running += wi
            if running > r:
                break
        total -= w[i]
        w[i] = 0
        venue = ordered[i]
        position = len(assignments) + 1
        d = days[(position - 1) % len(days)]

        # §7, the four rules in order; the count after each one for the skip's constraint.
        steps = [("inspectors", list(inspectors))]
        left = [x for x in steps[-1][1]
                if not (rules["same_county"] and x["county"] is not None and x["county"] == venue["county"])]
        steps.append(("same_county", left))
        left = [x for x in left
                if not (rules["responsible_department"] and x["department"] in responsible.get(venue["category"], []))]
        steps.append(("responsible_department", left))

        left = [x for x in left if repeat_ok(x, venue["id"], d, k, repeat_days)]
        steps.append(("repeat_visit", left))
        left = [x for x in left if count.get((x["id"], d), 0) < per_day]
        steps.append(("max_per_day", left))

        ranked = sorted(left, key=lambda x: (load[x["id"]], key[x["id"]], x["id"]))
        team = ranked[:team_size]
        constraint = None
        if len(team) < team_size:
            for name, remaining in steps:
                if len(remaining) < team_size:
                    constraint = "team_size" if name == "inspectors" else name
                    break
        elif certified_needed and not any(x["certified"] for x in team):
            replacement = next((x for x in ranked[team_size:] if x["certified"]), None)
            if replacement is None:
                constraint = "certified_member"
            else:
                team[-1] = replacement
        if constraint is not None:
            skipped.append({"constraint": constraint, "pick": k, "venue": venue["id"]})
            continue
        for x in team:
            load[x["id"]] += 1
            count[(x["id"], d)] = count.get((x["id"], d), 0) + 1
        assignments.append({"members": [x["id"] for x in team], "position": position, "venue": venue["id"],
                            "visit_date": d})
    if len(assignments) < size:
        return {"infeasible": True}
    return {"algorithm": parameters["algorithm"], "assignments": assignments, "skipped": skipped}


def check(directory: Path) -> list[tuple[str, str, str]]:
    """(check, match | mismatch | pending, note) for every check of the export."""
    results = []

    def record(name, ok, note=""):
        results.append((name, "match" if ok else "mismatch", note))

    draw = json.loads((directory / "draw.json").read_text("utf-8"))
    parameters_bytes = (directory / "parameters.json").read_bytes()
    venues_bytes = (directory / "venues.json").read_bytes()
    redacted = draw.get("redacted", False)
    inspectors_name = "inspectors.redacted.json" if redacted else "inspectors.json"
    inspectors_bytes = (directory / inspectors_name).read_bytes()

    office_seed = bytes.fromhex(draw["office_seed"])
    record("commitment", hashlib.sha256(office_seed).hexdigest() == draw["commitment"], "sha256(office_seed)")
    seed = combined_seed(office_seed, draw.get("contribution"))
    record("seed", seed.hex() == draw["seed"], "HMAC-SHA256(office_seed, 'anfang-draw-seed:' + contribution)")
    parameters = json.loads(parameters_bytes.decode("utf-8"))
    record("parameters_digest", hashlib.sha256(canonical(parameters)).hexdigest() == draw["parameters_digest"]
           and hashlib.sha256(parameters_bytes).hexdigest() == draw["parameters_digest"])
    record("venues_digest", hashlib.sha256(venues_bytes).hexdigest() == draw["venues_digest"])
    venues = json.loads(venues_bytes.decode("utf-8"))
    inspectors = json.loads(inspectors_bytes.decode("utf-8"))
    if redacted:
        results.append(("inspectors_digest", "pending", f"{draw.get('withheld_visits')} visits withheld"))
    else:
        record("inspectors_digest", hashlib.sha256(inspectors_bytes).hexdigest() == draw["inspectors_digest"])
        record("canonical inspectors", canonical(inspectors) == inspectors_bytes)
    record("canonical venues", canonical(venues) == venues_bytes)

    if draw["result_digest"] is None:
        results.append(("result_digest", "match", "no assignments were formed"))
        return results
    result = rerun(seed, parameters, venues, inspectors)
    if "infeasible" in result:
        record("result_digest", False, "the re-run is infeasible")
        return results
    digest = hmac.new(seed, canonical(result), hashlib.sha256).hexdigest()
    record("result_digest", digest == draw["result_digest"],
           f"{len(result['assignments'])} assignments, {len(result['skipped'])} skipped")
    return results


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: independent_rerun.py EXPORT_DIR", file=sys.stderr)
        return 2
    try:
        results = check(Path(argv[1]))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        print(f"mismatch: the export cannot be read ({exc!r})")
        return 1
    for name, state, note in results:
        print(f"{state:9} {name}{'  (' + note + ')' if note else ''}")
    ok = all(state != "mismatch" for _, state, _ in results)
    print("match" if ok else "mismatch")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
