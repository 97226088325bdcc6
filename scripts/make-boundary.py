#!/usr/bin/env python3
"""Build the Hartford city boundary from the neighbourhood polygons.

Reads  ../shared/data/hartford-neighborhoods.geojson (relative to the repo root)
Writes config/hartford/areas/boundary.geojson

The boundary is the union of all neighbourhoods with the tiny slivers/holes
between adjacent neighbourhoods removed and coordinates rounded to 6 decimals.
The output is deterministic: running the script again gives the same file.

Neighbourhood data: DataHaven (ctdatahaven.org), as collected in Code for
America's click_that_hood project, MIT licence, Copyright (c) 2013-2021 Code
for America. The boundary written by this script is derived from that data.

Requires shapely 2, e.g.:
    python3 -m venv /tmp/shp && /tmp/shp/bin/pip install shapely
    /tmp/shp/bin/python scripts/make-boundary.py
"""

import json
import re
import sys
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT.parent / "shared" / "data" / "hartford-neighborhoods.geojson"
TARGET = REPO_ROOT / "config" / "hartford" / "areas" / "boundary.geojson"

# Interior rings smaller than this (in square degrees, roughly 900 m² at
# Hartford's latitude) are gaps between neighbourhood polygons, not real holes.
MAX_HOLE_AREA = 1e-7
# Polygons smaller than this are slivers and are dropped.
MIN_PART_AREA = 1e-7
GRID = 1e-6  # 6 decimal places

# Points just outside the city limits that must NOT be inside the boundary.
OUTSIDE = {
    "West Hartford": (41.7620, -72.7420),
    "East Hartford": (41.7627, -72.6120),
}


def polygons(geom):
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    # GeometryCollection: keep only the areal parts
    return [p for g in getattr(geom, "geoms", []) for p in polygons(g)]


def clean(geom):
    parts = []
    for poly in polygons(geom):
        if poly.area < MIN_PART_AREA:
            continue
        holes = [r for r in poly.interiors if Polygon(r).area >= MAX_HOLE_AREA]
        parts.append(Polygon(poly.exterior, holes))
    merged = unary_union(parts)
    # Snap to a 1e-6 grid while keeping the geometry valid.
    snapped = shapely.set_precision(merged, GRID)
    # RFC 7946: exterior rings counter-clockwise, holes clockwise.
    oriented = [orient(p, sign=1.0) for p in polygons(snapped)]
    return oriented[0] if len(oriented) == 1 else MultiPolygon(oriented)


def round_coords(obj):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(c), 6) for c in obj]
        return [round_coords(c) for c in obj]
    return obj


def to_json(collection):
    """Indented JSON with one [long, lat] position per line (diff-friendly)."""
    text = json.dumps(collection, indent=2)
    # json.dumps puts every number on its own line; join each position back up.
    text = re.sub(r"\[\s+(-?[0-9.eE+-]+),\s+(-?[0-9.eE+-]+)\s+\]", r"[\1, \2]", text)
    return text + "\n"


def main():
    with open(SOURCE, encoding="utf-8") as fh:
        source = json.load(fh)

    hoods = [(f["properties"]["name"], shape(f["geometry"])) for f in source["features"]]
    for name, geom in hoods:
        if not geom.is_valid:
            sys.exit(f"neighbourhood {name!r} has an invalid geometry")

    boundary = clean(unary_union([g for _, g in hoods]))
    geometry = mapping(boundary)
    geometry = {"type": geometry["type"], "coordinates": round_coords(geometry["coordinates"])}

    # Re-read the rounded geometry and check it.
    check = shape(geometry)
    ok = True
    if not check.is_valid:
        print("ERROR: boundary is not valid:", shapely.is_valid_reason(check))
        ok = False
    for poly in polygons(check):
        for ring in [poly.exterior, *poly.interiors]:
            if ring.coords[0] != ring.coords[-1]:
                print("ERROR: ring is not closed")
                ok = False
        if not poly.exterior.is_ccw or any(r.is_ccw for r in poly.interiors):
            print("ERROR: ring orientation is not RFC 7946 (exterior counter-clockwise)")
            ok = False

    n_parts = len(polygons(check))
    n_holes = sum(len(p.interiors) for p in polygons(check))
    print(f"boundary: {check.geom_type}, {n_parts} part(s), {n_holes} hole(s), "
          f"valid={check.is_valid}, area={check.area:.6f} deg²")

    for name, geom in hoods:
        pt = geom.representative_point()
        inside = check.contains(pt)
        ok &= inside
        print(f"  {'ok ' if inside else 'BAD'} inside   {name:<20} "
              f"({pt.y:.5f}, {pt.x:.5f})")
    for name, (lat, lon) in OUTSIDE.items():
        outside = not check.intersects(Point(lon, lat))
        ok &= outside
        print(f"  {'ok ' if outside else 'BAD'} outside  {name:<20} ({lat:.5f}, {lon:.5f})")

    if not ok:
        sys.exit("boundary checks failed; not writing " + str(TARGET))

    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Hartford"},
                "geometry": geometry,
            }
        ],
    }
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with open(TARGET, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(to_json(collection))
    print(f"wrote {TARGET.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
