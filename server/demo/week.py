"""A week (or any number of days) of demo inspections with violations, for the statistics page
and the accountability report.

The history stands as it would after the visits: per day a city-wide sample draw and
re-inspection (复查) draws of some of a small pool of "problem venues" (so repeated violations
occur), all made and closed by the real draw service with seeds from a random generator seeded
with the demo seed and the day — so every demo draw verifies (`anfang draw verify`) and the same
registry and days always give the same rows. Their assignments are submitted, each with a
complete inspection checked in that day (China time) and the violations its venue's rules
produced (from the same generator). Running it again adds nothing for days already generated
(inspection UUIDs are derived from the day and position).

Bulletin material: per day the visit with the fewest violations gets a positive example note
(先进事迹) and the one with the most a negative one (反面教材), each with one or two site photos.
The texts name the venue's operator and carry a mobile number (some a plate number), the photos
carry EXIF GPS and capture time, so the masking and the stripping in the material library and
the bulletin PDF have something to do. Photos are stored as an accepted upload stores them: the
original content-addressed under EVIDENCE_DIR, an `EvidenceFile` with the facts `inspect_image`
reads, and received manifest `Photo` rows, so the inspections stay `complete`. Notes and photos
have UUIDs derived from their inspection's, so days generated before this material existed get
it on the next run, and a run after that adds nothing. On Mondays the positive example's first
photo shows a real face (FACE_PHOTO at the door), so the library's face detector has one to box.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from io import BytesIO
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from PIL import Image, ImageDraw, ImageOps
from sqlalchemy.orm import selectinload

from rulecheck.evaluator import ExpressionError, MissingValue, evaluate

from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import CHINA_STANDARD_TIME, as_utc, china_today
from ..draws.creation import DrawInfeasible, create_draw, create_reinspection_draw
from ..draws.closing import close_draw
from ..draws.models.draw import Draw
from ..draws.seeding import contribute
from ..extensions import db
from ..field.evidence_backend import evidence_store
from ..field.evidence_store import VARIANTS, original_path, variant_path
from ..field.models.evidence import EvidenceFile
from ..field.models.inspection import ExampleNote, Inspection, Photo, Violation
from ..field.photo_checks import (
    EXIF_DATETIME,
    EXIF_DATETIME_ORIGINAL,
    EXIF_IFD,
    EXIF_OFFSET_TIME_ORIGINAL,
    GPS_IFD,
    inspect_image,
)
from ..registry.loader import rules_bundle_for_category, venue_facts
from ..registry.models.reference import County, VenueCategory
from ..registry.models.venue import Venue
from .registry import DEMO_SEED

INSPECTIONS_PER_DAY = 24
PROBLEM_VENUES = 12
PROBLEM_SHARE = 0.3  # of each day's visits go to the problem venues
VIOLATION_RATE = 0.45  # chance that a check of a visited venue is found violated
NAMESPACE = uuid.UUID("6f1d3c52-6a0e-4c1b-9a57-9e1f4f3c2a10")
DEVICE_ID = "demo-week"
PHOTO_SIZE = (1280, 960)
PHOTO_QUALITY = 85
MEETING_POINT = "市公安局北门"
FALLBACK_POSITION = (29.08, 119.65)  # 金华 city centre, for a venue without coordinates
# Astronaut Eileen Collins, NASA (Great Images in NASA), public domain — "No known copyright
# restrictions, released into the public domain" — as shipped in scikit-image 0.26.0's sample data
# (skimage/data/astronaut.png), re-encoded as a 512×512 JPEG (quality 80).
FACE_PHOTO = Path(__file__).with_name("face_photo.jpg")
FACE_WEEKDAY = 0  # Monday: one positive example a week

# {venue}, {operator}, {mobile}, {plate} are filled per note; masking turns the operator into 某,
# the mobile into 138****1234 and the plate into 浙G·***45, and hides a negative venue's name.
# The first sentence is short: the library takes it as the item's title.
POSITIVE_NOTES = [
    "入口查验有序，登记台账完整。负责人{operator}亲自在{venue}门口逐一查验健康码、行程卡并测温登记，"
    "场所公示的防疫联系电话为{mobile}，做法值得同类场所学习借鉴。",
    "一米线引导到位，消杀记录齐全。{venue}设置一米线和专人引导，{operator}介绍每日营业前后各消杀一次"
    "并留存记录（联系电话{mobile}），现场秩序井然，员工均规范佩戴口罩。",
    "主动限流，场所码公示到位。{operator}带领员工主动限流，{venue}场内人数始终控制在核定人数的一半以内，"
    "入口张贴场所码，经营者手机{mobile}在门口公示，便于群众监督。",
]
NEGATIVE_NOTES = [
    "入口无人查验，人员密集未戴口罩。{venue}入口无人查验健康码，场内多人未佩戴口罩；经营者{operator}"
    "（手机{mobile}）称“忙不过来”，未能出示消杀记录。未落实：{violation}",
    "后门敞开，进出人员无人登记。督查组到达时{venue}后门敞开，门口车牌为浙G·{plate}的面包车正在卸货；"
    "负责人{operator}（电话{mobile}）不在现场。未落实：{violation}",
    "超核定人数经营，负责人拒不配合。{venue}包厢内聚集十余人，负责人{operator}拒绝配合登记，"
    "联系电话{mobile}，门口停放车辆浙G·{plate}。未落实：{violation}",
]
POSITIVE_CAPTIONS = ["{operator}在入口查验健康码", "入口登记台与一米线", "场内限流后的大厅"]
NEGATIVE_CAPTIONS = ["入口无人值守，{operator}不在现场", "场内人员密集", "门口停放的车辆"]


@dataclass
class WeekReport:
    days: int = 0
    inspections: int = 0
    violations: int = 0
    notes: int = 0
    photos: int = 0


def _inspection_uuid(day: date, position: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"demo-week/{day.isoformat()}/{position}"))


def _derived_uuid(inspection: Inspection, what: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{inspection.uuid}/{what}"))


def _day_draws(office: User, day: date, rng: random.Random, counties: list[str], categories: list[str],
               problem_venues: list[Venue], per_day: int) -> list[Draw]:
    """The day's draws, made and closed by the real draw service so each verifies: a city-wide
    sample draw and re-inspection (复查) draws of some problem venues, together `per_day` visits.
    Seeds come from `rng`, so the same registry and day give the same draws."""
    start = datetime.combine(day, time(8), CHINA_STANDARD_TIME)
    window = {"window_start": start, "window_end": start + timedelta(hours=10)}
    revisits = rng.sample(problem_venues, min(len(problem_venues), round(per_day * PROBLEM_SHARE), per_day - 1))
    draws = [create_draw(office, counties=counties, categories=categories, sample_size=per_day - len(revisits),
                         team_size=2, meeting_point=MEETING_POINT, channel="cli", demo_seed=rng.randbytes(32),
                         **window)]
    for venue in revisits:
        seed = rng.randbytes(32)  # drawn even when the re-inspection is infeasible: later days stay the same
        try:
            draws.append(create_reinspection_draw(venue, office, team_size=2, meeting_point=MEETING_POINT,
                                                  channel="cli", demo_seed=seed, **window))
        except DrawInfeasible:
            continue  # no team left for this venue today (回避): the day has one visit fewer
    # The auditor's share completes each seed, as on the contribution page; a draw the completed
    # seed cannot staff is cancelled by the service and leaves the day one visit fewer.
    auditor = db.session.scalar(sa.select(User).where(User.role == "auditor", User.is_active.is_(True))
                                .order_by(User.id).limit(1))
    for draw in draws:
        contribute(draw, auditor, rng.randbytes(16).hex(), channel="cli")
    formed = [draw for draw in draws if draw.status == "committed"]
    for draw in formed:
        close_draw(draw, office, channel="cli")
    return formed


def _applies(check: dict, venue: Venue) -> bool:
    """Whether a check applies to the venue; one whose condition needs observations is left out."""
    if not check["applies_when"]:
        return True
    try:
        return evaluate(check["applies_when"], {"venue": venue_facts(venue)}) is True
    except (MissingValue, ExpressionError):
        return False


def seed_week_inspections(days: int = 7, *, end: date | None = None, per_day: int = INSPECTIONS_PER_DAY) -> WeekReport:
    """Generate `days` days of `per_day` submitted inspections ending yesterday (China time) or on `end`."""
    report = WeekReport()
    office = db.session.scalar(sa.select(User).where(User.username == "office"))
    inspectors = list(db.session.scalars(sa.select(User).where(User.role == "inspector", User.username.like("inspector%"))
                                         .order_by(User.username)))
    if office is None or len(inspectors) < 2:
        raise LookupError("演示登记数据尚未生成，请先运行 anfang demo seed")
    categories = [c for c in db.session.scalars(sa.select(VenueCategory).options(selectinload(VenueCategory.rules))
                                                .order_by(VenueCategory.sort_order, VenueCategory.code))
                  if any(rule.checks for rule in c.rules)]
    venues = list(db.session.scalars(sa.select(Venue).where(Venue.category_id.in_([c.id for c in categories]))
                                     .options(selectinload(Venue.category).selectinload(VenueCategory.departments))
                                     .order_by(Venue.id)))
    if not venues:
        raise LookupError("演示登记数据尚未生成，请先运行 anfang demo seed")
    problem_venues = random.Random(DEMO_SEED).sample(venues, min(PROBLEM_VENUES, len(venues)))
    bundles: dict[int, list[dict]] = {}
    end = end or china_today() - timedelta(days=1)
    existing = set(db.session.scalars(sa.select(Inspection.uuid).where(Inspection.device_id == DEVICE_ID)))
    county_codes = sorted(db.session.scalars(sa.select(County.code).where(County.id.in_({v.county_id for v in venues}))))
    category_codes = [c.code for c in categories]

    for offset in range(days - 1, -1, -1):
        day = end - timedelta(days=offset)
        if _inspection_uuid(day, 1) in existing:
            continue
        rng = random.Random(f"{DEMO_SEED}/{day.isoformat()}")
        draws = _day_draws(office, day, rng, county_codes, category_codes, problem_venues, per_day)
        assignments = [assignment for draw in draws for assignment in draw.assignments]
        for position, assignment in enumerate(assignments, start=1):
            venue, team = assignment.venue, [member.user for member in assignment.members]
            checked_in = (datetime.combine(day, time(9), CHINA_STANDARD_TIME)
                          + timedelta(minutes=rng.randrange(0, 540))).astimezone(UTC)
            assignment.status, assignment.dispatched_at, assignment.dispatched_by_id = "submitted", \
                assignment.window_start, office.id
            assignment.revealed_at, assignment.submitted_at = checked_in, checked_in + timedelta(minutes=30)
            inspection = Inspection(uuid=_inspection_uuid(day, position), assignment_id=assignment.id,
                                    device_id=DEVICE_ID, inspector_id=team[0].id, checked_in_at=checked_in,
                                    status="complete", submitted_at=checked_in + timedelta(minutes=30),
                                    received_at=checked_in + timedelta(minutes=31),
                                    submission_received_at=checked_in + timedelta(minutes=31),
                                    completed_at=checked_in + timedelta(minutes=31))
            db.session.add(inspection)
            db.session.flush()
            if venue.category_id not in bundles:
                bundles[venue.category_id] = [rule for rule in rules_bundle_for_category(venue.category)
                                              if rule["checks"]]
            departments = sorted(d.id for d in venue.category.departments)
            for rule in bundles[venue.category_id]:
                for check in rule["checks"]:
                    if not _applies(check, venue):
                        continue
                    if rng.random() < VIOLATION_RATE:
                        db.session.add(Violation(inspection_id=inspection.id, rule_code=rule["code"],
                                                 check_code=check["code"], description=check["description"],
                                                 venue_id=venue.id, county_id=venue.county_id,
                                                 department_ids=departments, created_at=inspection.received_at))
                        report.violations += 1
            report.inspections += 1
        report.days += 1
    db.session.flush()
    for offset in range(days - 1, -1, -1):
        _seed_day_material(end - timedelta(days=offset), per_day, report)
    db.session.flush()
    if report.inspections or report.notes or report.photos:
        record_event("demo.week_seeded", channel="cli", object_type="demo",
                     details={"seed": DEMO_SEED, "end": end.isoformat(), "days": report.days,
                              "inspections": report.inspections, "violations": report.violations,
                              "notes": report.notes, "photos": report.photos})
    return report


# --- bulletin material ---------------------------------------------------------------------------


def _seed_day_material(day: date, per_day: int, report: WeekReport) -> None:
    """A positive note on the day's visit with the fewest violations and a negative one on the
    visit with the most, each with its photos; what already exists is left alone."""
    uuids = [_inspection_uuid(day, position) for position in range(1, per_day + 1)]
    live = sa.select(sa.func.count()).where(Violation.inspection_id == Inspection.id,
                                            Violation.withdrawn_at.is_(None)).scalar_subquery()
    rows = db.session.execute(sa.select(Inspection, live).where(Inspection.uuid.in_(uuids),
                                                                Inspection.device_id == DEVICE_ID,
                                                                Inspection.status == "complete")).all()
    if not rows:
        return
    order = {value: n for n, value in enumerate(uuids)}
    rows.sort(key=lambda row: (row[1], order[row[0].uuid]))
    chosen = [("negative", rows[-1][0])]
    if len(rows) > 1:
        chosen.insert(0, ("positive", rows[0][0]))
    rng = random.Random(f"{DEMO_SEED}/{day.isoformat()}/material")
    for kind, inspection in chosen:
        mobile = f"{rng.choice(('138', '139', '158', '186', '135'))}{rng.randrange(10**8):08d}"
        plate = f"{rng.randrange(10**5):05d}"
        template = rng.choice(POSITIVE_NOTES if kind == "positive" else NEGATIVE_NOTES)
        captions = POSITIVE_CAPTIONS if kind == "positive" else NEGATIVE_CAPTIONS
        photo_count = rng.choice((1, 2))
        note_uuid = _derived_uuid(inspection, f"note/{kind}")
        if db.session.scalar(sa.select(ExampleNote.id).where(ExampleNote.uuid == note_uuid)) is not None:
            continue
        venue = inspection.assignment.venue
        operator = venue.operator_name or "值班人员"
        violation = db.session.scalar(sa.select(Violation.description).where(Violation.inspection_id == inspection.id,
                                                                             Violation.withdrawn_at.is_(None))
                                      .order_by(Violation.rule_code, Violation.check_code).limit(1))
        text = template.format(venue=venue.name, operator=operator, mobile=mobile, plate=plate,
                               violation=(violation or "入场查验").rstrip("。") + "。")
        checked_in = as_utc(inspection.checked_in_at)
        noted_at = checked_in + timedelta(minutes=20)
        for n in range(1, photo_count + 1):
            taken = checked_in + timedelta(minutes=5 * n)
            caption = captions[(n - 1) % len(captions)].format(operator=operator)
            face = kind == "positive" and n == 1 and day.weekday() == FACE_WEEKDAY
            if _add_photo(inspection, n, kind, taken, caption, venue, face=face):
                report.photos += 1
        db.session.add(ExampleNote(uuid=note_uuid, inspection_id=inspection.id, kind=kind, text=text,
                                   created_at=noted_at))
        report.notes += 1
    db.session.flush()


def _add_photo(inspection: Inspection, n: int, kind: str, taken: datetime, caption: str, venue: Venue, *,
               face: bool = False) -> bool:
    """A site photo of `inspection`, stored as a completed upload stores it, and its received
    manifest entry; False if the entry exists already."""
    photo_uuid = _derived_uuid(inspection, f"photo/{n}")
    if db.session.scalar(sa.select(Photo.id).where(Photo.uuid == photo_uuid)) is not None:
        return False
    latitude = float(venue.latitude) if venue.latitude is not None else FALLBACK_POSITION[0]
    longitude = float(venue.longitude) if venue.longitude is not None else FALLBACK_POSITION[1]
    local = taken.astimezone(CHINA_STANDARD_TIME)
    data = scene_jpeg(f"{inspection.uuid}/{n}", kind, local, latitude, longitude, face=face)
    sha256 = hashlib.sha256(data).hexdigest()
    evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == sha256))
    store = evidence_store()
    if not store.exists(original_path(sha256)):  # content-addressed: a file there holds these very bytes
        store.write(original_path(sha256), data, read_only=True)  # originals are never changed, as for uploads
    if evidence is None:
        facts = inspect_image(store.local_path(original_path(sha256)), current_app.config["MAX_IMAGE_PIXELS"])
        evidence = EvidenceFile(sha256=sha256, size=len(data), media_type=facts.media_type, width=facts.width,
                                height=facts.height, exif_taken_at=facts.taken_at, gps_lat=facts.gps_lat,
                                gps_lon=facts.gps_lon, stored_path=original_path(sha256),
                                variants={name: variant_path(sha256, name) for name in VARIANTS},
                                uploaded_by_id=inspection.inspector_id, created_at=as_utc(inspection.received_at))
        db.session.add(evidence)
        db.session.flush()
        record_event("evidence.stored", channel="cli", object_type="evidence_file", object_id=evidence.id,
                     details={"sha256": sha256, "size": evidence.size, "media_type": evidence.media_type,
                              "demo": True})
    db.session.add(Photo(uuid=photo_uuid, inspection_id=inspection.id, sha256=sha256,
                         size=len(data), filename=f"IMG_{local:%Y%m%d_%H%M%S}.jpg", media_type="image/jpeg",
                         caption=caption, exif_time=local.strftime("%Y:%m:%d %H:%M:%S"),
                         exif_latitude=evidence.gps_lat, exif_longitude=evidence.gps_lon, taken_at=taken,
                         evidence_file_id=evidence.id, received_at=as_utc(inspection.received_at)))
    return True


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 2)
    return float(degrees), float(minutes), seconds


def scene_jpeg(seed: str, kind: str, taken: datetime, latitude: float, longitude: float, *,
               face: bool = False) -> bytes:
    """A 1280×960 street scene of shapes (a shop front, people, a car for negative examples; with
    `face`, a real person's portrait by the door), the same for the same seed, with the EXIF a
    phone writes: capture time (China time) and GPS."""
    rng = random.Random(seed)
    width, height = PHOTO_SIZE
    top = tuple(rng.randrange(90, 160) for _ in range(3))
    sky = ImageOps.colorize(Image.linear_gradient("L").resize((width, height)), black=top, white=(235, 238, 242))
    draw = ImageDraw.Draw(sky)
    ground = int(height * 0.72)
    draw.rectangle((0, ground, width, height), fill=(110, 110, 105))
    left, right = rng.randrange(60, 200), width - rng.randrange(60, 200)
    roof = rng.randrange(120, 240)
    wall = tuple(rng.randrange(150, 230) for _ in range(3))
    draw.rectangle((left, roof, right, ground), fill=wall)
    sign = (200, 40, 40) if kind == "negative" else (40, 110, 190)
    draw.rectangle((left + 40, roof + 20, right - 40, roof + 90), fill=sign)
    for column in range(left + 60, right - 120, 170):
        for row in range(roof + 130, ground - 220, 120):
            draw.rectangle((column, row, column + 110, row + 70), fill=(70, 90, 120))
    door = (width // 2 - 90, ground - 240, width // 2 + 90, ground)
    draw.rectangle(door, fill=(60, 50, 45))
    if kind == "positive":  # a check-in desk and a queue keeping its distance
        draw.rectangle((door[2] + 30, ground - 90, door[2] + 230, ground - 50), fill=(240, 240, 240))
        people = [door[0] - 120 - 140 * k for k in range(rng.randrange(2, 4))]
    else:  # a crowd at the door and a van parked in front
        people = [door[0] - 40 + rng.randrange(-200, 260) for _ in range(rng.randrange(5, 8))]
        van = rng.randrange(width // 2 + 160, width - 380)
        draw.rounded_rectangle((van, ground - 40, van + 330, ground + 120), radius=24, fill=(225, 225, 220))
        draw.rectangle((van + 115, ground + 70, van + 215, ground + 100), fill=(30, 80, 200))  # plate
        for wheel in (van + 60, van + 270):
            draw.ellipse((wheel - 30, ground + 95, wheel + 30, ground + 155), fill=(30, 30, 30))
    for x in people:
        colour = tuple(rng.randrange(30, 220) for _ in range(3))
        draw.ellipse((x, ground - 200, x + 50, ground - 150), fill=(230, 190, 160))
        draw.rectangle((x - 5, ground - 150, x + 55, ground - 40), fill=colour)
        draw.rectangle((x + 2, ground - 40, x + 48, ground + 20), fill=(40, 40, 60))
    if face:
        with Image.open(FACE_PHOTO) as portrait:
            sky.paste(portrait.convert("RGB").resize((400, 400)), (max(0, door[0] - 440), ground - 400))

    stamp = taken.strftime("%Y:%m:%d %H:%M:%S")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "HUAWEI", "demo"
    exif[EXIF_DATETIME] = stamp
    exif[EXIF_IFD] = {EXIF_DATETIME_ORIGINAL: stamp, EXIF_OFFSET_TIME_ORIGINAL: "+08:00"}
    exif[GPS_IFD] = {1: "N" if latitude >= 0 else "S", 2: _dms(abs(latitude)),
                     3: "E" if longitude >= 0 else "W", 4: _dms(abs(longitude))}
    buffer = BytesIO()
    sky.save(buffer, "JPEG", quality=PHOTO_QUALITY, exif=exif.tobytes())
    return buffer.getvalue()
