#!/usr/bin/env python3
"""Writes the layer-format fixtures under tests/fixtures/layers/formats/ (docs/gis-layers.md):
Shapefiles and a GeoPackage shaped as open-data portals export them (a projected State Plane zone
in US feet, UTM, Web Mercator; multi-part polygons, holes, a null shape, .dbf text in UTF-8 and
Latin-1 named by the .cpg), and prints the reference positions the Rust tests check against.

Needs pyshp and pyproj (PyPI) in a venv:

    python3 -m venv /tmp/fixtures-venv && /tmp/fixtures-venv/bin/pip install pyshp pyproj
    /tmp/fixtures-venv/bin/python scripts/make-layer-fixtures.py

The areas are fictional squares inside Hartford, CT; the output is deterministic.
"""

import json
import os
import sqlite3
import struct
import sys

import shapefile  # pyshp
from pyproj import CRS, Transformer
from pyproj.enums import WktVersion

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "layers", "formats")


def square(long, lat, size, clockwise):
    """A closed ring around (long, lat), `size` degrees on a side."""
    ring = [(long, lat), (long + size, lat), (long + size, lat + size), (long, lat + size), (long, lat)]
    # Counter-clockwise as listed (east, then north); reversed it is clockwise.
    return list(reversed(ring)) if clockwise else ring


def project(ring, transformer):
    return [tuple(round(c, 3) for c in transformer.transform(x, y)) for x, y in ring]


def write_prj(base, crs):
    with open(base + ".prj", "w") as f:
        f.write(crs.to_wkt(WktVersion.WKT1_ESRI))


def write_cpg(base, label):
    with open(base + ".cpg", "w") as f:
        f.write(label)


# The wards, in degrees: outer rings clockwise and holes counter-clockwise, as Shapefiles keep them.
DOWNTOWN = [square(-72.690, 41.760, 0.010, True), square(-72.687, 41.763, 0.003, False)]
TWO_PARTS = [square(-72.700, 41.740, 0.005, True), square(-72.690, 41.740, 0.005, True)]
CAFE = [square(-72.700, 41.770, 0.008, True)]


def wards_in_connecticut_feet():
    crs = CRS.from_epsg(2234)
    to_feet = Transformer.from_crs(4326, crs, always_xy=True)
    base = os.path.join(OUT, "wards-ct-feet")
    with shapefile.Writer(base, shapeType=shapefile.POLYGON, encoding="utf-8") as w:
        w.field("name", "C", size=40)
        w.field("ward_no", "N", size=4)
        w.field("area_ha", "N", size=10, decimal=2)
        for number, (name, rings) in enumerate([("Downtown", DOWNTOWN), ("Two Parts", TWO_PARTS), ("Café Sur", CAFE)]):
            w.poly([project(ring, to_feet) for ring in rings])
            w.record(name, number + 1, 12.5 * (number + 1))
    write_prj(base, crs)
    write_cpg(base, "UTF-8")
    return to_feet


def wards_in_latin1():
    base = os.path.join(OUT, "wards-latin1")
    with shapefile.Writer(base, shapeType=shapefile.POLYGON, encoding="latin-1") as w:
        w.field("NAME", "C", size=40)
        w.poly(CAFE)
        w.record("Peñón")
        w.null()
        w.record("Retired Ward")
        w.poly(TWO_PARTS)
        w.record("")
        w.poly(DOWNTOWN)
        w.record("Peñón")
    write_prj(base, CRS.from_epsg(4326))
    write_cpg(base, "ISO-8859-1")


def roads_in_connecticut_feet(to_feet):
    base = os.path.join(OUT, "roads-ct-feet")
    with shapefile.Writer(base, shapeType=shapefile.POLYLINE, encoding="utf-8") as w:
        w.field("name", "C", size=40)
        w.field("owner", "C", size=20)
        w.field("buffer_m", "N", size=6, decimal=1)
        w.line([project([(-72.700, 41.750), (-72.680, 41.752)], to_feet)])
        w.record("Route 44", "CTDOT", 20.0)
        w.line([project([(-72.700, 41.770), (-72.695, 41.775)], to_feet), project([(-72.690, 41.770), (-72.685, 41.775)], to_feet)])
        w.record("I-84 ramps", "CTDOT", 25.0)
    write_prj(base, CRS.from_epsg(2234))
    write_cpg(base, "UTF-8")


STREETLIGHTS = [("SL-0001", -72.6851, 41.7637), ("SL-0002", -72.6860, 41.7650), ("SL-0003", -72.6930, 41.7702)]


def streetlights_in_utm():
    crs = CRS.from_epsg(26918)
    to_utm = Transformer.from_crs(4326, crs, always_xy=True)
    base = os.path.join(OUT, "streetlights-utm")
    with shapefile.Writer(base, shapeType=shapefile.POINT, encoding="utf-8") as w:
        w.field("asset_id", "C", size=12)
        for asset, long, lat in STREETLIGHTS:
            x, y = to_utm.transform(long, lat)
            w.point(round(x, 3), round(y, 3))
            w.record(asset)
    write_prj(base, crs)
    write_cpg(base, "UTF-8")


def wards_in_web_mercator():
    to_mercator = Transformer.from_crs(4326, 3857, always_xy=True)
    features = []
    for name, rings in [("Downtown", DOWNTOWN), ("Café Sur", CAFE)]:
        # GeoJSON keeps RFC 7946's orientation: outer counter-clockwise.
        rings = [project(list(reversed(ring)), to_mercator) for ring in rings]
        features.append({"type": "Feature", "properties": {"name": name}, "geometry": {"type": "Polygon", "coordinates": rings}})
    layer = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}, "features": features}
    with open(os.path.join(OUT, "wards-web-mercator.geojson"), "w") as f:
        json.dump(layer, f, ensure_ascii=False)
        f.write("\n")


def wkb_polygon(rings):
    out = struct.pack("<BII", 1, 3, len(rings))
    for ring in rings:
        out += struct.pack("<I", len(ring)) + b"".join(struct.pack("<dd", x, y) for x, y in ring)
    return out


def wkb_multipolygon(polygons):
    return struct.pack("<BII", 1, 6, len(polygons)) + b"".join(wkb_polygon(p) for p in polygons)


def gpkg_geometry(srs_id, wkb):
    # GeoPackage binary: magic, version 0, flags (little-endian, no envelope), srs_id, then WKB.
    return b"GP" + struct.pack("<BBi", 0, 0b0000_0001, srs_id) + wkb


def wards_geopackage(to_feet):
    path = os.path.join(OUT, "wards-ct-feet.gpkg")
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size = 512")  # keeps the committed binary small
    db.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
    db.execute("PRAGMA user_version = 10400")
    db.executescript("""
        CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
          organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
        CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '',
          last_change DATETIME NOT NULL DEFAULT '2026-12-02T00:00:00Z', min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
        CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
          srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, PRIMARY KEY (table_name, column_name));
        CREATE TABLE wards (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB, name TEXT, ward_no INTEGER);
    """)
    crs = CRS.from_epsg(2234)
    db.execute("INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, ?, '')", (CRS.from_epsg(4326).to_wkt(WktVersion.WKT1_GDAL),))
    db.execute("INSERT INTO gpkg_spatial_ref_sys VALUES (?, 2234, 'EPSG', 2234, ?, '')", (crs.name, crs.to_wkt(WktVersion.WKT1_GDAL)))
    db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES ('wards', 'features', 'wards', 2234)")
    db.execute("INSERT INTO gpkg_geometry_columns VALUES ('wards', 'geom', 'MULTIPOLYGON', 2234, 0, 0)")
    # Outer rings counter-clockwise in a GeoPackage (simple features), holes clockwise.
    downtown = wkb_polygon([project(list(reversed(ring)), to_feet) for ring in DOWNTOWN])
    two_parts = wkb_multipolygon([[project(list(reversed(ring)), to_feet)] for ring in TWO_PARTS])
    db.execute("INSERT INTO wards (geom, name, ward_no) VALUES (?, 'Downtown', 1)", (gpkg_geometry(2234, downtown),))
    db.execute("INSERT INTO wards (geom, name, ward_no) VALUES (?, 'Two Parts', 2)", (gpkg_geometry(2234, two_parts),))
    db.commit()
    db.close()


def main():
    os.makedirs(OUT, exist_ok=True)
    to_feet = wards_in_connecticut_feet()
    wards_in_latin1()
    roads_in_connecticut_feet(to_feet)
    streetlights_in_utm()
    wards_in_web_mercator()
    wards_geopackage(to_feet)
    # The reference positions the tests hold (pyproj, always_xy): feet back to degrees.
    back = Transformer.from_crs(2234, 4326, always_xy=True)
    x, y = project([(-72.690, 41.760)], to_feet)[0]
    print(f"EPSG:2234 ({x}, {y}) -> WGS 84 {back.transform(x, y)}", file=sys.stderr)
    for code, points in [(2234, [(1015260.0, 836070.0), (760000.0, 600000.0)]), (3857, [(-8092339.0, 5124650.0)]), (26918, [(692115.0, 4625488.0)])]:
        t = Transformer.from_crs(code, 4326, always_xy=True)
        for x, y in points:
            long, lat = t.transform(x, y)
            print(f"EPSG:{code} ({x}, {y}) -> WGS 84 ({long:.10f}, {lat:.10f})", file=sys.stderr)


if __name__ == "__main__":
    main()
