"""Agreement and whole-process speed of cityfix's routing check against shapely 2 (GEOS) on layers with invalid shapes.

    python3 benches/agreement.py --cityfix PATH/check_routing --python VENV/bin/python --data DIR [--points 200000]

For each layer (the fault fixtures of tests/fixtures/layers and Hartford's neighbourhoods, both
partitions), writes `--points` uniformly random points over the layer's extent (seeded), runs
cityfix's check (which repairs the layer) and benches/shapely_contains.py (GEOS `contains` on
the shapes as stored) as two whole processes, timed from start to exit, and counts the points
whose set of areas is the same on both sides. Prints one table; fails if agreement is below
99.9 % or cityfix is less than 10 times faster.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import time
from collections import Counter

LAYERS = [
    ("faults", "tests/fixtures/layers/faulty-wards.geojson"),
    ("hartford", "config/hartford/areas/neighborhoods.geojson"),
]


def extent(path: str) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []

    def walk(c):
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for part in c:
                walk(part)

    for feature in json.load(open(path, encoding="utf-8"))["features"]:
        walk(feature["geometry"]["coordinates"])
    return min(xs), min(ys), max(xs), max(ys)


def timed(command: list[str], out: str) -> float:
    start = time.perf_counter()
    with open(out, "w", encoding="utf-8") as f:
        subprocess.run(command, check=True, stdout=f, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def areas(path: str) -> list[set[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))[1:]
    return [set(filter(None, row[1].split("|"))) for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cityfix", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--points", type=int, default=200_000)
    args = parser.parse_args()
    failed = False
    print(f"\n{'layer':>9} {'points':>8} {'agree':>9} {'differ':>7} {'cityfix':>9} {'shapely':>9} {'faster':>7}  most frequent differences (cityfix / shapely)")
    for name, layer in LAYERS:
        west, south, east, north = extent(layer)
        rng = random.Random(311)
        points = f"{args.data}/agreement-{name}.csv"
        with open(points, "w", encoding="utf-8") as f:
            f.write("id,lat,long\n")
            for i in range(args.points):
                f.write(f"{i},{rng.uniform(south, north):.7f},{rng.uniform(west, east):.7f}\n")
        ours = timed([args.cityfix, layer, points, "--partition"], f"{args.data}/agreement-{name}.cityfix.csv")
        theirs = timed([args.python, "benches/shapely_contains.py", "--polygons", layer, "--points", points], f"{args.data}/agreement-{name}.shapely.csv")
        a, b = areas(f"{args.data}/agreement-{name}.cityfix.csv"), areas(f"{args.data}/agreement-{name}.shapely.csv")
        if len(a) != len(b):
            raise SystemExit(f"{name}: {len(a)} rows from cityfix, {len(b)} from shapely")
        differences = Counter(("|".join(sorted(x)) or "-", "|".join(sorted(y)) or "-") for x, y in zip(a, b) if x != y)
        differing = sum(differences.values())
        agreement = 1 - differing / len(a)
        common = ", ".join(f"{x} / {y} ×{n}" for (x, y), n in differences.most_common(4))
        print(f"{name:>9} {len(a):>8} {agreement:>8.4%} {differing:>7} {ours:>7.2f} s {theirs:>7.2f} s {theirs / ours:>6.1f}x  {common}")
        failed |= agreement < 0.999 or theirs / ours < 10
    print("\nBoth sides are whole processes (start-up, reading, lookup, writing). cityfix repairs the layer and gives slivers of overlap and gap to one side; shapely answers on the shapes as stored. Points on an edge count as inside for cityfix, not for `contains`.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
