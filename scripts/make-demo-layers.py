#!/usr/bin/env python3
"""Build the Hartford demo routing layers and the demo address file.

Reads  config/hartford/areas/neighborhoods.geojson   (the 17 neighbourhoods)
       config/hartford/areas/boundary.geojson        (the city outline)
Writes config/hartford/areas/districts.geojson       (3 Public Works districts)
       config/hartford/areas/neighbouring-towns.geojson (6 towns around the city)
       config/hartford/lines/state-roads.geojson     (4 state roads)
       config/hartford/agencies.toml                 (CTDOT and the 6 towns)
       config/hartford/addresses.csv                 (demo address points)

Everything written here is FICTIONAL DEMO DATA. The districts are unions of
whole neighbourhoods; the towns are sectors of a ring around the city; the
roads and streets are rough hand tracings made for this demo, not survey data,
and the address points are generated along those tracings. Contact details use
the reserved .example domain and 555-01xx phone numbers.

The districts (and, through the boundary, the towns) are derived from the
neighbourhood data: DataHaven (ctdatahaven.org), as collected in Code for
America's click_that_hood project, MIT licence, Copyright (c) 2013-2021 Code
for America.

The output is deterministic: running the script again gives identical files.
Every file is checked before anything is written; if a check fails, nothing
is written.

Requires shapely 2, e.g.:
    python3 -m venv /tmp/shp && /tmp/shp/bin/pip install shapely
    /tmp/shp/bin/python scripts/make-demo-layers.py      # from anywhere
"""

import csv
import io
import json
import math
import re
import sys
from pathlib import Path

import shapely
import shapely.ops
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, mapping, shape
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

REPO_ROOT = Path(__file__).resolve().parent.parent
CITY_DIR = REPO_ROOT / "config" / "hartford"
NEIGHBOURHOODS = CITY_DIR / "areas" / "neighborhoods.geojson"
BOUNDARY = CITY_DIR / "areas" / "boundary.geojson"
DISTRICTS = CITY_DIR / "areas" / "districts.geojson"
TOWNS = CITY_DIR / "areas" / "neighbouring-towns.geojson"
ROADS = CITY_DIR / "lines" / "state-roads.geojson"
AGENCIES = CITY_DIR / "agencies.toml"
ADDRESSES = CITY_DIR / "addresses.csv"

GRID = 1e-6            # 6 decimal places
MIN_PART_AREA = 1e-7   # square degrees (~900 m²): smaller polygons are slivers
MAX_HOLE_AREA = 1e-7   # smaller interior rings are gaps between neighbourhoods
MAX_OVERLAP = 1e-9     # square degrees (~10 m²), the loader's partition tolerance

# ---------------------------------------------------------------------------
# Local metric projection (equirectangular about the city centre). Good to
# well under 0.1 % within 10 km, which is all the checks below need.
LAT0, LON0 = 41.765, -72.685
M_PER_DEG_LAT = math.pi / 180 * 6_371_008.8
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT0))


def to_m(geom):
    return shapely.transform(geom, lambda c: (c - (LON0, LAT0)) * (M_PER_DEG_LON, M_PER_DEG_LAT))


def to_deg(geom):
    return shapely.transform(geom, lambda c: c / (M_PER_DEG_LON, M_PER_DEG_LAT) + (LON0, LAT0))


def metres(a, b):
    """Distance in metres between two geometries given in degrees."""
    return to_m(a).distance(to_m(b))


def pt(lat, lon):
    return Point(lon, lat)


# ---------------------------------------------------------------------------
# 1. Public Works districts: unions of whole neighbourhoods.
DISTRICT_GROUPS = {
    "North District": ["Blue Hills", "North East", "Upper Albany", "Clay Arsenal", "North Meadows"],
    "Central District": ["Downtown", "Asylum Hill", "West End", "Frog Hollow", "Parkville",
                         "South Green", "Sheldon Charter Oak"],
    "South District": ["South End", "South West", "Behind The Rocks", "Barry Square", "South Meadows"],
}

# ---------------------------------------------------------------------------
# 2. Neighbouring towns: sectors of a ring around the city. Bearings are
# compass degrees (clockwise from north) from the city centroid, measured in
# the local metric projection; each town runs from its bearing to the next.
RING_WIDTH_M = 5000
TOWN_SECTORS = [  # (name, agency id, first bearing); listed clockwise
    ("Windsor", "windsor", -5),
    ("East Hartford", "east-hartford", 40),
    ("Wethersfield", "wethersfield", 147),
    ("Newington", "newington", 205),
    ("West Hartford", "west-hartford", 235),
    ("Bloomfield", "bloomfield", 325),
]
TOWN_ORDER = ["West Hartford", "Bloomfield", "Windsor", "East Hartford", "Wethersfield", "Newington"]
TOWN_CONTACTS = {  # agency id: (web/e-mail host, phone)
    "west-hartford": ("westhartford", "(860) 555-0191"),
    "bloomfield": ("bloomfield", "(860) 555-0192"),
    "windsor": ("windsor", "(860) 555-0193"),
    "east-hartford": ("easthartford", "(860) 555-0194"),
    "wethersfield": ("wethersfield", "(860) 555-0195"),
    "newington": ("newington", "(860) 555-0196"),
}
# One point well inside each town (lat, long); the first three are given.
TOWN_POINTS = {
    "West Hartford": (41.7620, -72.7420),
    "East Hartford": (41.7627, -72.6120),
    "Wethersfield": (41.7050, -72.6700),
    "Bloomfield": (41.8250, -72.7150),
    "Windsor": (41.8300, -72.6700),
    "Newington": (41.7050, -72.7400),
}

# ---------------------------------------------------------------------------
# 3. State roads: rough hand tracings, (lat, long), drawn past the city limits
# and clipped to ROAD_CLIP_M beyond them.
ROAD_CLIP_M = 400
MIN_ROAD_VERTICES = 12
STATE_ROADS = [
    ("I-84", 30, [  # west (West Hartford) to east (East Hartford)
        (41.7570, -72.7300), (41.7580, -72.7230), (41.7590, -72.7170), (41.7597, -72.7120),
        (41.7603, -72.7070), (41.7610, -72.7030), (41.7620, -72.6993), (41.7635, -72.6950),
        (41.7648, -72.6915), (41.7660, -72.6880), (41.7672, -72.6855), (41.7688, -72.6835),
        (41.7703, -72.6812), (41.7713, -72.6785), (41.7717, -72.6755), (41.7715, -72.6725),
        (41.7710, -72.6700), (41.7703, -72.6675), (41.7698, -72.6650), (41.7693, -72.6620),
        (41.7688, -72.6580), (41.7685, -72.6530), (41.7683, -72.6480),
    ]),
    ("I-91", 30, [  # south (Wethersfield) to north (Windsor), along the river
        (41.7200, -72.6625), (41.7250, -72.6622), (41.7300, -72.6620), (41.7350, -72.6618),
        (41.7400, -72.6615), (41.7450, -72.6618), (41.7500, -72.6628), (41.7540, -72.6640),
        (41.7580, -72.6650), (41.7615, -72.6664), (41.7650, -72.6672), (41.7690, -72.6679),
        (41.7730, -72.6668), (41.7760, -72.6638), (41.7790, -72.6590), (41.7820, -72.6555),
        (41.7860, -72.6530), (41.7900, -72.6522), (41.7950, -72.6522), (41.8000, -72.6525),
        (41.8050, -72.6525), (41.8100, -72.6520),
    ]),
    ("US-44 Albany Avenue", 15, [  # Main Street at Morgan Street, north, then north-west
        (41.7712, -72.6745), (41.7740, -72.6738), (41.7766, -72.6730), (41.7780, -72.6726),
        (41.7786, -72.6745), (41.7793, -72.6775), (41.7800, -72.6808), (41.7808, -72.6840),
        (41.7815, -72.6870), (41.7822, -72.6900), (41.7828, -72.6930), (41.7834, -72.6960),
        (41.7838, -72.6990), (41.7842, -72.7020), (41.7846, -72.7050), (41.7852, -72.7080),
        (41.7862, -72.7108), (41.7872, -72.7134), (41.7882, -72.7158), (41.7890, -72.7175),
        (41.7900, -72.7205), (41.7910, -72.7240),
    ]),
    ("CT-2", 15, [  # from the Downtown riverfront across the river to East Hartford
        (41.7655, -72.6690), (41.7652, -72.6670), (41.7648, -72.6645), (41.7644, -72.6620),
        (41.7640, -72.6595), (41.7636, -72.6570), (41.7630, -72.6545), (41.7624, -72.6520),
        (41.7618, -72.6495), (41.7612, -72.6470),
    ]),
]
ROAD_OWNER = "CTDOT"
# Ordinary Downtown potholes stay with the city: this point must be further
# than this from every state road.
DOWNTOWN_POINT = (41.76770, -72.67602)
DOWNTOWN_CLEARANCE_M = 60

# ---------------------------------------------------------------------------
# 5. Streets for the address file: rough hand tracings, (lat, long). Each
# street is numbered from the end nearer Downtown: every STEP_M along the
# street there is an odd number OFFSET_M to the left and the next even number
# OFFSET_M to the right; numbers rise by `step` per STEP_M. Points outside the
# city, in a cross street or inside an interstate's buffer are left out.
STEP_M = 30.0
OFFSET_M = 12.0
CROSS_STREET_M = 10.0  # a house this close to another street's centreline would stand in it
DOWNTOWN_REF = (41.7671, -72.6755)  # Downtown centroid
STREETS = [  # (name, first number - 1, numbers per step, tracing)
    ("Main Street", 100, 16, [  # from South Green north through Downtown to Windsor
        (41.7575, -72.6757), (41.7597, -72.6752), (41.7620, -72.6747), (41.7645, -72.6741),
        (41.7670, -72.6737), (41.7700, -72.6738), (41.7730, -72.6736), (41.7766, -72.6730),
        (41.7800, -72.6718), (41.7840, -72.6702), (41.7875, -72.6685), (41.7910, -72.6655),
        (41.7947, -72.6624), (41.8000, -72.6585), (41.8040, -72.6562), (41.8070, -72.6545),
    ]),
    ("Albany Avenue", 0, 10, [
        (41.7780, -72.6726), (41.7786, -72.6745), (41.7793, -72.6775), (41.7800, -72.6808),
        (41.7808, -72.6840), (41.7815, -72.6870), (41.7822, -72.6900), (41.7828, -72.6930),
        (41.7834, -72.6960), (41.7838, -72.6990), (41.7842, -72.7020), (41.7846, -72.7050),
        (41.7852, -72.7080), (41.7862, -72.7108), (41.7872, -72.7134), (41.7882, -72.7158),
    ]),
    ("Asylum Avenue", 0, 10, [
        (41.7693, -72.6830), (41.7700, -72.6860), (41.7708, -72.6895), (41.7716, -72.6930),
        (41.7724, -72.6965), (41.7732, -72.7000), (41.7742, -72.7040), (41.7752, -72.7080),
        (41.7760, -72.7110), (41.7768, -72.7135),
    ]),
    ("Farmington Avenue", 0, 10, [
        (41.7676, -72.6850), (41.7677, -72.6890), (41.7679, -72.6925), (41.7680, -72.6960),
        (41.7682, -72.6995), (41.7684, -72.7030), (41.7686, -72.7065), (41.7690, -72.7100),
        (41.7695, -72.7135), (41.7699, -72.7158),
    ]),
    ("Park Street", 0, 10, [
        (41.7602, -72.6752), (41.7595, -72.6790), (41.7585, -72.6830), (41.7575, -72.6870),
        (41.7565, -72.6910), (41.7557, -72.6950), (41.7551, -72.6990), (41.7548, -72.7030),
        (41.7545, -72.7070), (41.7543, -72.7110), (41.7542, -72.7145),
    ]),
    ("Capitol Avenue", 0, 8, [
        (41.7615, -72.6760), (41.7620, -72.6790), (41.7625, -72.6820), (41.7628, -72.6850),
        (41.7629, -72.6880), (41.7627, -72.6910), (41.7623, -72.6940), (41.7617, -72.6965),
        (41.7612, -72.6978),
    ]),
    ("Franklin Avenue", 0, 10, [
        (41.7505, -72.6790), (41.7480, -72.6788), (41.7450, -72.6785), (41.7420, -72.6782),
        (41.7390, -72.6780), (41.7360, -72.6779), (41.7330, -72.6778), (41.7300, -72.6776),
        (41.7275, -72.6775),
    ]),
    ("Wethersfield Avenue", 0, 10, [
        (41.7573, -72.6752), (41.7550, -72.6750), (41.7525, -72.6745), (41.7501, -72.6738),
        (41.7470, -72.6725), (41.7439, -72.6710), (41.7400, -72.6702), (41.7360, -72.6695),
        (41.7331, -72.6690), (41.7305, -72.6693), (41.7288, -72.6686),
    ]),
    ("Maple Avenue", 0, 10, [
        (41.7572, -72.6762), (41.7545, -72.6775), (41.7520, -72.6786), (41.7490, -72.6798),
        (41.7460, -72.6810), (41.7430, -72.6825), (41.7400, -72.6840), (41.7370, -72.6855),
        (41.7340, -72.6868), (41.7310, -72.6880), (41.7280, -72.6889), (41.7266, -72.6893),
    ]),
    ("Broad Street", 0, 8, [
        (41.7662, -72.6845), (41.7630, -72.6852), (41.7600, -72.6858), (41.7570, -72.6864),
        (41.7540, -72.6870), (41.7510, -72.6876), (41.7480, -72.6882), (41.7450, -72.6887),
        (41.7431, -72.6890),
    ]),
    ("Washington Street", 0, 8, [
        (41.7624, -72.6815), (41.7600, -72.6820), (41.7570, -72.6826), (41.7540, -72.6830),
        (41.7510, -72.6833), (41.7480, -72.6836), (41.7455, -72.6839), (41.7438, -72.6840),
    ]),
    ("New Britain Avenue", 0, 10, [
        (41.7440, -72.6818), (41.7437, -72.6840), (41.7433, -72.6870), (41.7428, -72.6900),
        (41.7422, -72.6930), (41.7410, -72.6960), (41.7398, -72.6990), (41.7385, -72.7020),
        (41.7372, -72.7050), (41.7360, -72.7080), (41.7350, -72.7110), (41.7343, -72.7138),
    ]),
    ("Blue Hills Avenue", 0, 8, [
        (41.7833, -72.6955), (41.7864, -72.6957), (41.7900, -72.6950), (41.7930, -72.6943),
        (41.7960, -72.6937), (41.7990, -72.6935), (41.8020, -72.6932), (41.8050, -72.6930),
        (41.8070, -72.6928),
    ]),
    ("Homestead Avenue", 0, 8, [
        (41.7752, -72.6866), (41.7760, -72.6905), (41.7770, -72.6950), (41.7783, -72.6988),
        (41.7798, -72.7010), (41.7813, -72.7027), (41.7830, -72.7038), (41.7843, -72.7046),
    ]),
    ("Sigourney Street", 0, 8, [
        (41.7768, -72.6949), (41.7740, -72.6948), (41.7710, -72.6946), (41.7680, -72.6944),
        (41.7650, -72.6943), (41.7620, -72.6945), (41.7590, -72.6949), (41.7565, -72.6952),
    ]),
    ("Zion Street", 0, 8, [
        (41.7551, -72.6985), (41.7525, -72.6976), (41.7500, -72.6969), (41.7470, -72.6963),
        (41.7440, -72.6966), (41.7420, -72.6971), (41.7405, -72.6975),
    ]),
    ("Garden Street", 0, 8, [
        (41.7704, -72.6880), (41.7725, -72.6879), (41.7749, -72.6873), (41.7762, -72.6876),
        (41.7790, -72.6869), (41.7813, -72.6862), (41.7836, -72.6856), (41.7865, -72.6850),
        (41.7895, -72.6845), (41.7925, -72.6840),
    ]),
    ("Woodland Street", 0, 8, [
        (41.7682, -72.7000), (41.7710, -72.7002), (41.7740, -72.7004), (41.7770, -72.7006),
        (41.7798, -72.7010), (41.7825, -72.7014), (41.7842, -72.7018), (41.7870, -72.7021),
        (41.7900, -72.7024),
    ]),
    ("Windsor Street", 0, 8, [
        (41.7742, -72.6712), (41.7765, -72.6690), (41.7790, -72.6665), (41.7820, -72.6640),
        (41.7850, -72.6615), (41.7880, -72.6596), (41.7910, -72.6582), (41.7940, -72.6572),
        (41.7970, -72.6566), (41.7998, -72.6562),
    ]),
    ("Benton Street", 0, 6, [
        (41.7392, -72.6781), (41.7392, -72.6810), (41.7391, -72.6843),
    ]),
    ("Bartholomew Avenue", 0, 6, [
        (41.7603, -72.7050), (41.7590, -72.7052), (41.7575, -72.7055), (41.7560, -72.7058),
        (41.7547, -72.7060),
    ]),
    ("Wawarme Avenue", 0, 6, [
        (41.7496, -72.6736), (41.7491, -72.6700), (41.7488, -72.6670), (41.7486, -72.6640),
    ]),
    ("Airport Road", 0, 8, [
        (41.7385, -72.6699), (41.7383, -72.6660), (41.7380, -72.6620), (41.7377, -72.6580),
        (41.7373, -72.6540), (41.7370, -72.6505),
    ]),
    ("Sisson Avenue", 0, 8, [
        (41.7747, -72.7068), (41.7715, -72.7067), (41.7686, -72.7065), (41.7660, -72.7062),
        (41.7635, -72.7060), (41.7613, -72.7057),
    ]),
    ("Fairfield Avenue", 0, 8, [
        (41.7397, -72.6995), (41.7360, -72.6990), (41.7330, -72.6986), (41.7300, -72.6983),
        (41.7270, -72.6980), (41.7253, -72.6979),
    ]),
]
CITY_HALL = ("550", "Main Street")

# ---------------------------------------------------------------------------
# Helpers shared by all layers.


def polygons(geom):
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [p for g in getattr(geom, "geoms", []) for p in polygons(g)]


def clean(geom, fill_holes=True):
    """Drop slivers and (optionally) tiny holes, snap to the grid, orient rings (RFC 7946)."""
    parts = []
    for poly in polygons(geom):
        if poly.area < MIN_PART_AREA:
            continue
        holes = [r for r in poly.interiors if not fill_holes or Polygon(r).area >= MAX_HOLE_AREA]
        parts.append(Polygon(poly.exterior, holes))
    snapped = shapely.set_precision(unary_union(parts), GRID)
    oriented = [orient(p, sign=1.0) for p in polygons(snapped) if p.area >= MIN_PART_AREA]
    return oriented[0] if len(oriented) == 1 else MultiPolygon(oriented)


def round_coords(obj):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(c), 6) for c in obj]
        return [round_coords(c) for c in obj]
    return obj


def geometry_json(geom):
    g = mapping(geom)
    return {"type": g["type"], "coordinates": round_coords(g["coordinates"])}


def to_json(collection):
    """Indented JSON with one [long, lat] position per line, as in boundary.geojson."""
    text = json.dumps(collection, indent=2, ensure_ascii=False)
    text = re.sub(r"\[\s+(-?[0-9.eE+-]+),\s+(-?[0-9.eE+-]+)\s+\]", r"[\1, \2]", text)
    return text + "\n"


def feature_collection(features):
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": p, "geometry": geometry_json(g)}
                         for p, g in features]}


class Checks:
    def __init__(self):
        self.failed = 0

    def __call__(self, ok, message):
        print(f"  {'ok ' if ok else 'BAD'} {message}")
        if not ok:
            self.failed += 1
        return ok


def check_areas(check, label, features):
    """Re-read rounded geometries: valid, closed, RFC 7946 orientation."""
    shapes = {}
    for props, geom in features:
        g = shape(geometry_json(geom))
        shapes[props["name"]] = g
        rings_ok = all(p.exterior.is_ccw and not any(r.is_ccw for r in p.interiors) for p in polygons(g))
        check(g.is_valid and rings_ok,
              f"{label}: {props['name']:<18} {g.geom_type}, {len(polygons(g))} part(s), "
              f"{sum(len(p.interiors) for p in polygons(g))} hole(s), valid, CCW exterior")
    names = list(shapes)
    worst = 0.0
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            worst = max(worst, shapes[a].intersection(shapes[b]).area)
    check(worst < MAX_OVERLAP, f"{label}: largest pairwise overlap {worst:.2e} deg² < {MAX_OVERLAP:g}")
    return shapes


# ---------------------------------------------------------------------------


def build_districts(hoods, boundary, check):
    print("districts")
    grouped = [n for names in DISTRICT_GROUPS.values() for n in names]
    check(sorted(grouped) == sorted(hoods) and len(set(grouped)) == len(grouped),
          f"every one of the {len(hoods)} neighbourhoods is in exactly one district")
    # Union each group, clipped to the boundary and made disjoint in order.
    parts, taken = {}, Polygon()
    for name, members in DISTRICT_GROUPS.items():
        merged = clean(unary_union([hoods[m] for m in members]))
        merged = shapely.intersection(merged, boundary, grid_size=GRID)
        merged = shapely.difference(merged, taken, grid_size=GRID)
        parts[name] = merged
        taken = shapely.union(taken, merged, grid_size=GRID)
    # Gaps between neighbourhoods of different districts (inside the boundary)
    # go to the district they share the longest edge with.
    gaps = polygons(shapely.difference(boundary, taken, grid_size=GRID))
    for gap in sorted(gaps, key=lambda g: (g.centroid.x, g.centroid.y)):
        edge = gap.boundary
        best = max(parts, key=lambda n: (edge.intersection(parts[n].buffer(GRID)).length, n))
        parts[best] = shapely.union(parts[best], gap, grid_size=GRID)
    print(f"  {len(gaps)} gap(s) between districts assigned, total {sum(g.area for g in gaps):.2e} deg²")
    features = []
    for name, members in DISTRICT_GROUPS.items():
        geom = clean(parts[name])
        features.append(({"name": name, "neighbourhoods": ", ".join(members)}, geom))
    shapes = check_areas(check, "district", features)
    union = unary_union(list(shapes.values()))
    sym = union.symmetric_difference(boundary).area
    check(sym < 1e-8, f"districts cover the boundary: symmetric difference {sym:.2e} deg² "
                      f"({sym / boundary.area:.1e} of the city)")
    misplaced = [m for name, members in DISTRICT_GROUPS.items() for m in members
                 if [n for n, g in shapes.items() if g.contains(hoods[m].representative_point())] != [name]]
    check(not misplaced, "every neighbourhood's representative point is in its own district only"
                         + (f"; not: {', '.join(misplaced)}" if misplaced else ""))
    for name, g in shapes.items():
        print(f"  {name:<17} {len(polygons(g))} part(s), {g.area * M_PER_DEG_LAT * M_PER_DEG_LON / 1e6:5.2f} km²")
    return features


def bearing(origin, target):
    """Compass bearing in degrees from origin to target, both in metres."""
    return math.degrees(math.atan2(target.x - origin.x, target.y - origin.y)) % 360


def build_towns(boundary, check):
    print("neighbouring towns")
    centre = to_m(boundary.centroid)
    outer = shapely.set_precision(to_deg(to_m(boundary).buffer(RING_WIDTH_M, quad_segs=8)), GRID)
    # The ring's hole is the city outline itself, vertex for vertex.
    ring = Polygon(outer.exterior.coords, [boundary.exterior.coords])
    # Each cut starts exactly on a vertex of the city outline (so no town can
    # overlap the city once coordinates are rounded) and runs radially outwards.
    vertices = [Point(c) for c in boundary.exterior.coords[:-1]]
    cuts = []
    for name, _, first in TOWN_SECTORS:
        b = first % 360
        start = min(vertices, key=lambda v: (abs((bearing(centre, to_m(v)) - b + 180) % 360 - 180), v.x, v.y))
        s = to_m(start)
        end = to_deg(Point(s.x + 2 * RING_WIDTH_M * math.sin(math.radians(b)),
                           s.y + 2 * RING_WIDTH_M * math.cos(math.radians(b))))
        cut = LineString([start.coords[0], end.coords[0]])
        touches = cut.intersection(boundary)
        check(touches.geom_type == "Point" and touches.equals(start),
              f"cut at {b:3d}° (before {name}) leaves the city at its vertex ({start.y:.6f}, {start.x:.6f}) only")
        cuts.append(cut)
    pieces = [p for p in shapely.ops.polygonize(unary_union([ring.exterior, ring.interiors[0], *cuts]))
              if ring.contains(p.representative_point())]
    towns = {}
    for piece in pieces:
        b = bearing(centre, to_m(piece.representative_point()))
        name, agency, _ = min(TOWN_SECTORS, key=lambda t: (b - t[2]) % 360)
        towns.setdefault(name, [agency, []])[1].append(piece)
    check(sorted(towns) == sorted(TOWN_ORDER) and len(pieces) == len(TOWN_ORDER),
          f"the ring around the city splits into {len(pieces)} pieces, one per town")
    features = [({"name": n, "agency": towns[n][0]}, clean(unary_union(towns[n][1]), fill_holes=False))
                for n in TOWN_ORDER if n in towns]
    shapes = check_areas(check, "town", features)
    for name, g in shapes.items():
        overlap = g.intersection(boundary).area
        check(overlap < MAX_OVERLAP, f"{name:<13} overlaps the city by {overlap:.1e} deg²")
    for name, (lat, lon) in TOWN_POINTS.items():
        p = pt(lat, lon)
        inside = [n for n, g in shapes.items() if g.contains(p)]
        check(inside == [name] and not boundary.intersects(p),
              f"({lat:.4f}, {lon:.4f}) is in {inside[0] if inside else 'no town'} (expected {name}), outside the city")
    return features


def build_roads(boundary, hoods, check):
    print("state roads")
    clip = to_deg(to_m(boundary).buffer(ROAD_CLIP_M, quad_segs=8))
    features = []
    for name, buffer_m, trace in STATE_ROADS:
        line = LineString([(lon, lat) for lat, lon in trace])
        clipped = shapely.line_merge(line.intersection(clip))
        if clipped.geom_type != "LineString":
            check(False, f"{name}: clipping gave a {clipped.geom_type}, not one LineString")
            continue
        if len(clipped.coords) < MIN_ROAD_VERTICES:
            clipped = shapely.segmentize(clipped, clipped.length / (MIN_ROAD_VERTICES - 1) * 1.0001)
        features.append(({"name": name, "owner": ROAD_OWNER, "buffer_m": buffer_m}, clipped))
    downtown = pt(*DOWNTOWN_POINT)
    lines = {}
    for props, geom in features:
        g = shape(geometry_json(geom))
        lines[props["name"]] = g
        n = len(g.coords)
        inside = g.intersection(boundary).length / g.length
        check(g.is_valid and 10 <= n <= 60 and g.intersects(boundary),
              f"{props['name']:<20} {n:2d} vertices, {to_m(g).length / 1000:4.1f} km, "
              f"{inside:.0%} inside the city, buffer {props['buffer_m']} m")
        d = metres(g, downtown)
        check(d > DOWNTOWN_CLEARANCE_M, f"{props['name']:<20} is {d:5.0f} m from the Downtown point {DOWNTOWN_POINT}")
    # Test points on the lines, between vertices.
    samples = {}
    for name, lon in [("US-44 Albany Avenue", -72.6915), ("I-84", -72.6800)]:
        g = lines[name]
        cut = g.intersection(LineString([(lon, 41.6), (lon, 41.9)]))
        cut = cut if cut.geom_type == "Point" else list(cut.geoms)[0]
        p = pt(round(cut.y, 6), round(cut.x, 6))
        d = metres(g, p)
        hood = [n for n, h in hoods.items() if h.contains(p)]
        ok = d < 5 and len(hood) == 1 and (name != "US-44 Albany Avenue" or hood == ["Upper Albany"])
        check(ok, f"test point ({p.y:.6f}, {p.x:.6f}) is {d:.2f} m from {name}, in {', '.join(hood) or 'no neighbourhood'}")
        samples[name] = p
    return features, samples


def build_addresses(boundary, hoods, roads, check):
    print("addresses")
    ref = to_m(pt(*DOWNTOWN_REF))
    centrelines = {street: to_m(LineString([(lon, lat) for lat, lon in trace])) for street, _, _, trace in STREETS}
    # No houses on the interstates: points inside an interstate's buffer are left out.
    interstates = unary_union([to_m(g).buffer(p["buffer_m"]) for p, g in roads if p["name"].startswith("I-")])
    rows, dropped = [], {"outside the city": 0, "on a cross street": 0, "on an interstate": 0}
    for street, first, step, _ in STREETS:
        line = centrelines[street]
        others = unary_union([g for s, g in centrelines.items() if s != street])
        if Point(line.coords[-1]).distance(ref) < Point(line.coords[0]).distance(ref):
            line = LineString(line.coords[::-1])
        coords = list(line.coords)
        seg_starts, total = [], 0.0
        for a, b in zip(coords, coords[1:]):
            seg_starts.append(total)
            total += math.dist(a, b)
        k = 0
        while STEP_M / 2 + k * STEP_M < total:
            d = STEP_M / 2 + k * STEP_M
            s = max(i for i, start in enumerate(seg_starts) if start <= d)
            (x1, y1), (x2, y2) = coords[s], coords[s + 1]
            length = math.dist((x1, y1), (x2, y2))
            t = (d - seg_starts[s]) / length
            x, y = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
            ux, uy = (x2 - x1) / length, (y2 - y1) / length
            # left of travel = (-uy, ux); odd numbers left, even numbers right
            for number, side in ((first + k * step + 1, 1.0), (first + k * step + 2, -1.0)):
                house = Point(x - uy * OFFSET_M * side, y + ux * OFFSET_M * side)
                p = to_deg(house)
                lat, lon = round(p.y, 6), round(p.x, 6)
                if not boundary.contains(Point(lon, lat)):
                    dropped["outside the city"] += 1
                elif house.distance(others) < CROSS_STREET_M:
                    dropped["on a cross street"] += 1
                elif interstates.contains(house):
                    dropped["on an interstate"] += 1
                else:
                    rows.append((street, number, lat, lon))
            k += 1
    rows.sort()
    keys = [(street, number) for street, number, _, _ in rows]
    check(len(keys) == len(set(keys)), f"{len(rows)} address points, no duplicate (number, street); left out: "
                                       + ", ".join(f"{n} {why}" for why, n in dropped.items()))
    check(2000 <= len(rows) <= 4000, f"row count {len(rows)} is within 2,000-4,000")
    check(len({r[0] for r in rows}) == len(STREETS), f"{len(STREETS)} streets")
    hall = [r for r in rows if (str(r[1]), r[0]) == CITY_HALL]
    if check(len(hall) == 1 and hoods["Downtown"].contains(pt(hall[0][2], hall[0][3])),
             f"{' '.join(CITY_HALL)} exists and is inside Downtown"):
        print(f"      {' '.join(CITY_HALL)}: ({hall[0][2]:.6f}, {hall[0][3]:.6f})")
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["number", "street", "lat", "long"])
    for street, number, lat, lon in rows:
        writer.writerow([number, street, f"{lat:.6f}", f"{lon:.6f}"])
    return out.getvalue(), len(rows)


def agencies_toml():
    def entry(id_, name, email, phone, website):
        return (f'[[agency]]\nid = "{id_}"\nname = "{name}"\nemail = "{email}"\n'
                f'phone = "{phone}"\nwebsite = "{website}"\n')
    parts = [
        "# Outside agencies that cityfix refers reports to (fictional demo contact details:\n"
        "# .example domains and 555-01xx phone numbers). Generated by scripts/make-demo-layers.py.\n"
        "# `ctdot` owns the lines of lines/state-roads.geojson; the town ids are the `agency`\n"
        "# properties of areas/neighbouring-towns.geojson.\n",
        entry("ctdot", "Connecticut Department of Transportation", "dot.hartford-district@ctdot.example",
              "(860) 555-0190", "https://ctdot.example/report-a-road-problem"),
    ]
    agency_of = {name: agency for name, agency, _ in TOWN_SECTORS}
    for town in TOWN_ORDER:
        agency = agency_of[town]
        host, phone = TOWN_CONTACTS[agency]
        parts.append(entry(agency, f"Town of {town}", f"311@{host}.example", phone,
                           f"https://{host}.example/report"))
    return "\n".join(parts)


def main():
    with open(NEIGHBOURHOODS, encoding="utf-8") as fh:
        hoods = {f["properties"]["name"]: shape(f["geometry"]) for f in json.load(fh)["features"]}
    with open(BOUNDARY, encoding="utf-8") as fh:
        boundary = shape(json.load(fh)["features"][0]["geometry"])
    check = Checks()

    districts = build_districts(hoods, boundary, check)
    towns = build_towns(boundary, check)
    roads, samples = build_roads(boundary, hoods, check)
    addresses, n_addresses = build_addresses(boundary, hoods, roads, check)
    agencies = agencies_toml()
    ids = re.findall(r'^id = "([^"]+)"', agencies, flags=re.M)
    check(sorted(ids[1:]) == sorted(p["agency"] for p, _ in towns) and ids[0] == "ctdot",
          f"agencies.toml: {len(ids)} agencies, one per town plus ctdot")

    if check.failed:
        sys.exit(f"{check.failed} check(s) failed; nothing written")
    outputs = {
        DISTRICTS: to_json(feature_collection(districts)),
        TOWNS: to_json(feature_collection(towns)),
        ROADS: to_json(feature_collection(roads)),
        AGENCIES: agencies,
        ADDRESSES: addresses,
    }
    for path, text in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    print(f"summary: {len(districts)} districts, {len(towns)} towns, {len(roads)} state roads, "
          f"{len(ids)} agencies, {n_addresses} addresses")


if __name__ == "__main__":
    main()
