"""Reference side of cityfix's point-in-polygon benchmark: shapely 2's STRtree (GEOS).

The Rust router's lookup is benchmarked against this script on the same files in the
same run; a driver divides the two sets of figures.  For each point we find the names of
all polygons that contain it, boundary included (GEOS "intersects", as geo's
`Intersects` on the Rust side), served one point at a time from a Python loop.

    python3 benches/shapely_strtree.py --polygons areas.geojson --points points.csv [--repeat 5]

Inputs: a GeoJSON FeatureCollection of Polygon/MultiPolygon features with a string
property `name`, and a CSV with header `id,lat,long` (x = long, y = lat).
Prints one JSON object on stdout; bad input -> message on stderr, exit code 2.
`vertices` counts coordinates as stored, ring-closing repeats included.  Points are made
into shapely Points before timing; one untimed warm-up pass precedes the `--repeat` timed
passes, which run with the garbage collector off (as timeit does).  `bulk_ns_per_point`
is the best of `--repeat` vectorised queries.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import math
import sys
import time
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape


class InputError(Exception):
    pass


def load_polygons(path: str) -> tuple[list[str], np.ndarray]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: {e}") from e
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InputError(f"{path}: not a GeoJSON FeatureCollection")
    names: list[str] = []
    geoms: list[Any] = []
    for i, feat in enumerate(doc.get("features") or []):
        try:
            geom = feat["geometry"]
            name = (feat.get("properties") or {}).get("name")
            if geom.get("type") not in ("Polygon", "MultiPolygon"):
                raise InputError(f"geometry type {geom.get('type')!r}")
            if not isinstance(name, str):
                raise InputError("no string property 'name'")
            geoms.append(shape(geom))
        except (InputError, KeyError, TypeError, ValueError, AttributeError,
                IndexError, shapely.errors.ShapelyError) as e:
            raise InputError(f"{path}: feature {i}: {e}") from e
        names.append(name)
    return names, np.array(geoms, dtype=object)


def load_points(path: str) -> np.ndarray:
    xs: list[float] = []
    ys: list[float] = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            if header != ["id", "lat", "long"]:
                raise InputError(f"{path}: header must be id,lat,long, got {','.join(header)!r}")
            for row in reader:
                if not row:
                    continue
                if len(row) != 3:
                    raise InputError(f"{path}: line {reader.line_num}: expected 3 fields, got {len(row)}")
                lat, lon = float(row[1]), float(row[2])
                if not (math.isfinite(lat) and math.isfinite(lon)):
                    raise InputError(f"{path}: line {reader.line_num}: non-finite coordinate")
                ys.append(lat)
                xs.append(lon)
    except OSError as e:
        raise InputError(f"{path}: {e}") from e
    except (ValueError, csv.Error) as e:
        raise InputError(f"{path}: line {reader.line_num}: {e}") from e
    if not xs:
        raise InputError(f"{path}: no points")
    return shapely.points(np.array(xs), np.array(ys))


def run(polygons: str, points_path: str, repeat: int) -> dict[str, Any]:
    names, geoms = load_polygons(polygons)
    points = load_points(points_path)
    point_list = list(points)  # Point objects made up front, like a parsed request

    t0 = time.perf_counter_ns()
    tree = shapely.STRtree(geoms)
    t1 = time.perf_counter_ns()
    shapely.prepare(geoms)
    t2 = time.perf_counter_ns()

    def lookup(point: Any) -> list[str]:
        return sorted(names[i] for i in tree.query(point, predicate="intersects").tolist())

    for point in point_list:  # warm-up pass, untimed
        lookup(point)

    samples = np.empty(len(point_list) * repeat, dtype=np.int64)
    pass_hits: list[int] = []
    points_in_no_area = 0
    clock = time.perf_counter_ns
    k = 0
    gc.disable()
    try:
        for r in range(repeat):
            hits = 0
            for point in point_list:
                start = clock()
                found = lookup(point)
                samples[k] = clock() - start
                k += 1
                hits += len(found)
                if r == 0 and not found:
                    points_in_no_area += 1
            pass_hits.append(hits)
    finally:
        gc.enable()

    bulk_best = math.inf
    for _ in range(repeat):
        start = time.perf_counter_ns()
        pairs = tree.query(points, predicate="intersects")
        bulk_best = min(bulk_best, time.perf_counter_ns() - start)

    hits = pass_hits[0]
    bulk_no_area = len(point_list) - len(np.unique(pairs[0]))
    if any(h != hits for h in pass_hits) or (pairs.shape[1], bulk_no_area) != (hits, points_in_no_area):
        raise RuntimeError(f"inconsistent checksums: loop {pass_hits}/{points_in_no_area}, "
                           f"bulk {pairs.shape[1]}/{bulk_no_area}")

    return {
        "engine": f"shapely {shapely.__version__} / GEOS {shapely.geos_version_string}",
        "polygons": len(names),
        "vertices": int(shapely.get_num_coordinates(geoms).sum()),
        "points": len(point_list),
        "repeat": repeat,
        "build_ms": (t2 - t0) / 1e6,
        "tree_ms": (t1 - t0) / 1e6,
        "prepare_ms": (t2 - t1) / 1e6,
        "median_ns": float(np.median(samples)),
        "p90_ns": float(np.percentile(samples, 90)),
        "mean_ns": float(samples.mean()),
        "bulk_ns_per_point": bulk_best / len(point_list),
        "hits": hits,
        "points_in_no_area": points_in_no_area,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polygons", required=True, help="GeoJSON FeatureCollection")
    parser.add_argument("--points", required=True, help="CSV with header id,lat,long")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over all points")
    args = parser.parse_args()  # exits 2 on bad arguments
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    try:
        result = run(args.polygons, args.points, args.repeat)
    except InputError as e:
        print(f"shapely_strtree: {e}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
