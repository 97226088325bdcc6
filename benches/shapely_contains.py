"""Reference side of cityfix's agreement benchmark: which areas contain each point, by shapely 2 (GEOS) on the shapes as stored.

    python3 benches/shapely_contains.py --polygons areas.geojson --points points.csv > out.csv

Reads a GeoJSON FeatureCollection of Polygon/MultiPolygon features named by the string property
`name` (invalid shapes included, unrepaired: GEOS answers point-in-polygon on them anyway) and a
CSV with header `id,lat,long`; writes `id,area` with the names of the areas that contain each
point, in file order, joined by `|`, as `cityfix check-routing` does. The whole run is what the
benchmark times: start-up, reading, the STRtree query (predicate `within`: the point lies in the
polygon, which is the polygon's `contains`), writing.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys

import numpy as np
import shapely
from shapely.geometry import shape


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polygons", required=True)
    parser.add_argument("--points", required=True)
    args = parser.parse_args()
    with open(args.polygons, encoding="utf-8") as f:
        features = json.load(f)["features"]
    names = [feature["properties"]["name"] for feature in features]
    tree = shapely.STRtree([shape(feature["geometry"]) for feature in features])
    with open(args.points, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if rows[0][:3] != ["id", "lat", "long"]:
        print(f"{args.points}: the header must start with id,lat,long", file=sys.stderr)
        return 2
    ids = [row[0] for row in rows[1:]]
    lat = np.array([float(row[1]) for row in rows[1:]])
    long = np.array([float(row[2]) for row in rows[1:]])
    point_index, area_index = tree.query(shapely.points(long, lat), predicate="within")
    found: list[list[int]] = [[] for _ in ids]
    for p, a in zip(point_index.tolist(), area_index.tolist()):
        found[p].append(a)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["id", "area"])
    for point_id, areas in zip(ids, found):
        out.writerow([point_id, "|".join(names[a] for a in sorted(areas))])
    return 0


if __name__ == "__main__":
    sys.exit(main())
