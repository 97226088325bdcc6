#!/usr/bin/env python3
"""Build the Hartford demo streetlight layer: config/hartford/assets/streetlights.geojson.

Reads  config/hartford/addresses.csv             (the demo address points)
       config/hartford/areas/boundary.geojson    (the city outline)
Writes config/hartford/assets/streetlights.geojson

Everything written here is FICTIONAL DEMO DATA: no real pole stands where these do and
none has these numbers. The address points come in pairs every 30 m along each traced
demo street (odd numbers 12 m to the left, even 12 m to the right, see README.md); a pole
stands at every second pair (60 m apart), 8 m from the centreline, on alternate sides,
as poles are staggered on a two-sided street. Each pole is numbered `SL-<street>-<n>`
(the street's three-digit code in the sorted list of streets, the pole's place along it)
and labelled with its street and the nearest address number.

Only the Python standard library is needed. The output is deterministic: running the
script again gives an identical file. Every pole is checked to lie inside the boundary
and every id to be unique before the file is written; if a check fails, nothing is
written.

    python3 scripts/make-streetlights.py          # from anywhere
"""

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CITY_DIR = REPO_ROOT / "config" / "hartford"
ADDRESSES = CITY_DIR / "addresses.csv"
BOUNDARY = CITY_DIR / "areas" / "boundary.geojson"
OUT = CITY_DIR / "assets" / "streetlights.geojson"

EVERY_PAIRS = 2      # a pole at every second address pair: 60 m apart
OFFSET = 8.0 / 12.0  # 8 m from the centreline, the address points being 12 m from it


def rings_of(geometry):
    """The exterior and interior rings of a Polygon or MultiPolygon, as lists of (x, y)."""
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    return [[ring for ring in polygon] for polygon in polygons]


def inside(point, polygons):
    """Even-odd ray test over every ring of every polygon."""
    x, y = point
    crossings = 0
    for polygon in polygons:
        for ring in polygon:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
                if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                    crossings += 1
    return crossings % 2 == 1


def main():
    boundary = json.loads(BOUNDARY.read_text())
    polygons = [p for f in boundary["features"] for p in rings_of(f["geometry"])]

    by_street = defaultdict(dict)
    with ADDRESSES.open(newline="") as f:
        for row in csv.DictReader(f):
            by_street[row["street"]][int(row["number"])] = (float(row["long"]), float(row["lat"]))

    features = []
    for code, street in enumerate(sorted(by_street), start=1):
        numbers = by_street[street]
        pairs = [(n, n + 1) for n in sorted(numbers) if n % 2 == 1 and n + 1 in numbers]
        for place, (odd, even) in enumerate(pairs[::EVERY_PAIRS], start=1):
            (ox, oy), (ex, ey) = numbers[odd], numbers[even]
            mx, my = (ox + ex) / 2, (oy + ey) / 2
            # alternate sides: towards the odd numbers, then towards the even
            sx, sy = (ox, oy) if place % 2 else (ex, ey)
            point = (round(mx + (sx - mx) * OFFSET, 6), round(my + (sy - my) * OFFSET, 6))
            if not inside(point, polygons):
                continue
            nearest = odd if place % 2 else even
            features.append({
                "type": "Feature",
                "properties": {
                    "pole_id": f"SL-{code:03d}-{place:03d}",
                    "label": f"{street}, by {nearest}",
                },
                "geometry": {"type": "Point", "coordinates": list(point)},
            })

    ids = [f["properties"]["pole_id"] for f in features]
    if len(set(ids)) != len(ids):
        sys.exit("repeated pole ids; nothing written")
    if not all(inside(f["geometry"]["coordinates"], polygons) for f in features):
        sys.exit("a pole outside the boundary; nothing written")
    if len(features) < 500:
        sys.exit(f"only {len(features)} poles; nothing written")

    OUT.parent.mkdir(exist_ok=True)
    lines = [json.dumps(f, separators=(",", ":")) for f in features]
    text = (
        '{"type":"FeatureCollection",\n'
        '"name":"Hartford demo streetlights: FICTIONAL DEMO DATA, made by scripts/make-streetlights.py",\n'
        '"features":[\n' + ",\n".join(lines) + "\n]}\n"
    )
    OUT.write_text(text)
    print(f"{OUT.relative_to(REPO_ROOT)}: {len(features)} poles on {len(by_street)} streets, {len(text):,} bytes")


if __name__ == "__main__":
    main()
