"""What a registered venue must satisfy, as data: the box around 金华 its coordinates fall in,
the categories that register rooms with seats (server/reference/venue_register.yaml), and the
categories that need a 核定人数 (those whose rules compare a count with it, read from the rules)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from .models.reference import County, Rule, VenueCategory

REGISTER_FILE = "venue_register.yaml"
# The rule variable holding the venue's 核定人数 (server/reference/rules.yaml).
CAPACITY_VARIABLE = '"venue.approved_capacity"'


@dataclass(frozen=True)
class Bounds:
    min_longitude: Decimal
    max_longitude: Decimal
    min_latitude: Decimal
    max_latitude: Decimal

    def holds(self, longitude: Decimal, latitude: Decimal) -> bool:
        return (self.min_longitude <= longitude <= self.max_longitude
                and self.min_latitude <= latitude <= self.max_latitude)


@dataclass(frozen=True)
class RegisterSettings:
    bounds: Bounds
    room_categories: frozenset[str]


@lru_cache(maxsize=4)
def _load_settings(path: str) -> RegisterSettings:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    bounds = Bounds(**{key: Decimal(str(value)) for key, value in data["bounds"].items()})
    return RegisterSettings(bounds, frozenset(data.get("room_categories") or ()))


def register_settings() -> RegisterSettings:
    return _load_settings(str(Path(current_app.config["REFERENCE_DIR"]) / REGISTER_FILE))


def capacity_category_codes() -> frozenset[str]:
    """Codes of the categories whose rules compare a count with the venue's 核定人数."""
    rules = db.session.scalars(select(Rule).options(selectinload(Rule.checks), selectinload(Rule.categories)))
    codes = set()
    for rule in rules:
        if any(CAPACITY_VARIABLE in json.dumps(check.expression) for check in rule.checks):
            codes.update(category.code for category in rule.categories)
    return frozenset(codes)


@dataclass
class RegisterReference:
    """Categories and counties by code and by name, read once for a whole import."""

    categories: dict[str, VenueCategory]
    counties: dict[str, County]
    capacity_categories: frozenset[str]
    settings: RegisterSettings

    @classmethod
    def load(cls) -> RegisterReference:
        categories, counties = {}, {}
        for category in db.session.scalars(select(VenueCategory)):
            categories[category.code] = categories[category.name] = category
        for county in db.session.scalars(select(County)):
            counties[county.code] = counties[county.name] = county
        return cls(categories, counties, capacity_category_codes(), register_settings())
