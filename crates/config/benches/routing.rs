//! Benchmarks of the router's place look-ups: which areas hold a point, with 100 to 10,000 polygons and the Hartford layer.
//!
//! Each synthetic layer is a grid of star-shaped polygons of 50 to 1,000 vertices that do not
//! overlap (like precincts or parcels, with gaps between), and 10,000 points spread over it. The
//! layers and points are also written to `$CITYFIX_BENCH_DATA` (default `target/bench-data`) so
//! `scripts/bench-routing` can run the same ones through shapely's STRtree.

use std::path::PathBuf;

use cityfix_config::read_area_layer;
use cityfix_domain::areas::AreaIndex;
use cityfix_domain::Area;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use geo::{Coord, LineString, MultiPolygon, Point, Polygon};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const POINTS: usize = 10_000;
/// The synthetic layers sit over Hartford's box.
const WEST: f64 = -72.72;
const SOUTH: f64 = 41.72;
const SIZE: f64 = 0.12;

fn data_dir() -> PathBuf {
    std::env::var_os("CITYFIX_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data")
        })
}

/// `count` polygons of 50 to 1,000 vertices, one per grid cell, not touching: blobs whose radius
/// wanders smoothly around the centre (a few waves of random phase plus a little noise), as
/// traced boundaries do.
fn synthetic_layer(count: usize, rng: &mut StdRng) -> Vec<Area> {
    let side = (count as f64).sqrt().ceil() as usize;
    let cell = SIZE / side as f64;
    (0..count)
        .map(|i| {
            let (column, row) = (i % side, i / side);
            let centre = Coord {
                x: WEST + (column as f64 + 0.5) * cell,
                y: SOUTH + (row as f64 + 0.5) * cell,
            };
            let vertices = rng.gen_range(50..=1000);
            let waves: Vec<(f64, f64, f64)> = (0..3)
                .map(|w| {
                    (
                        f64::from(w + 2),
                        rng.gen_range(0.0..std::f64::consts::TAU),
                        rng.gen_range(0.01..0.03),
                    )
                })
                .collect();
            let mut ring: Vec<Coord<f64>> = (0..vertices)
                .map(|k| {
                    let angle = k as f64 / vertices as f64 * std::f64::consts::TAU;
                    let wave: f64 = waves
                        .iter()
                        .map(|(frequency, phase, height)| {
                            height * (frequency * angle + phase).sin()
                        })
                        .sum();
                    let radius = cell * (0.40 + wave + rng.gen_range(-0.002..0.002));
                    Coord {
                        x: centre.x + radius * angle.cos(),
                        y: centre.y + radius * angle.sin(),
                    }
                })
                .collect();
            ring.push(ring[0]);
            Area {
                name: format!("area-{i}"),
                shape: MultiPolygon(vec![Polygon::new(LineString(ring), vec![])]),
            }
        })
        .collect()
}

fn random_points(
    rng: &mut StdRng,
    west: f64,
    south: f64,
    width: f64,
    height: f64,
) -> Vec<Point<f64>> {
    (0..POINTS)
        .map(|_| {
            Point::new(
                west + rng.gen::<f64>() * width,
                south + rng.gen::<f64>() * height,
            )
        })
        .collect()
}

/// Writes a layer and its points for the shapely side of the comparison.
fn write_dataset(name: &str, areas: &[Area], points: &[Point<f64>]) {
    let dir = data_dir();
    std::fs::create_dir_all(&dir).expect("the bench data folder");
    let features: Vec<serde_json::Value> = areas
        .iter()
        .map(|area| {
            let polygons: Vec<Vec<Vec<[f64; 2]>>> = area
                .shape
                .iter()
                .map(|polygon| std::iter::once(polygon.exterior()).chain(polygon.interiors()).map(|ring| ring.coords().map(|c| [c.x, c.y]).collect()).collect())
                .collect();
            serde_json::json!({ "type": "Feature", "properties": { "name": area.name }, "geometry": { "type": "MultiPolygon", "coordinates": polygons } })
        })
        .collect();
    let collection = serde_json::json!({ "type": "FeatureCollection", "features": features });
    std::fs::write(dir.join(format!("{name}.geojson")), collection.to_string())
        .expect("the layer is written");
    let mut csv = String::from("id,lat,long\n");
    for (i, point) in points.iter().enumerate() {
        csv.push_str(&format!("{i},{},{}\n", point.y(), point.x()));
    }
    std::fs::write(dir.join(format!("{name}.csv")), csv).expect("the points are written");
}

fn hartford() -> Vec<Area> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/hartford/areas/neighborhoods.geojson");
    read_area_layer(&path, "name")
        .expect("the Hartford layer loads")
        .areas
        .into_iter()
        .map(|(area, _)| area)
        .collect()
}

fn datasets() -> Vec<(String, Vec<Area>, Vec<Point<f64>>)> {
    let mut rng = StdRng::seed_from_u64(311);
    let mut sets: Vec<(String, Vec<Area>, Vec<Point<f64>>)> = [100, 1_000, 10_000]
        .into_iter()
        .map(|count| {
            let areas = synthetic_layer(count, &mut rng);
            let points = random_points(&mut rng, WEST, SOUTH, SIZE, SIZE);
            (count.to_string(), areas, points)
        })
        .collect();
    let hartford_points = random_points(&mut rng, -72.72, 41.72, 0.09, 0.09);
    sets.push(("hartford".into(), hartford(), hartford_points));
    sets
}

fn routing(c: &mut Criterion) {
    let sets = datasets();
    for (name, areas, points) in &sets {
        if std::env::var_os("CITYFIX_BENCH_WRITE").is_some() {
            write_dataset(name, areas, points);
        }
    }
    let mut lookup = c.benchmark_group("lookup");
    for (name, areas, points) in &sets {
        let index = AreaIndex::build(areas);
        let mut next = 0;
        lookup.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                next = (next + 1) % points.len();
                index.areas_at(points[next])
            })
        });
    }
    lookup.finish();
    let mut build = c.benchmark_group("build");
    build.sample_size(10);
    for (name, areas, _) in &sets {
        build.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_batched(
                || areas.clone(),
                |areas| AreaIndex::build(&areas),
                BatchSize::LargeInput,
            )
        });
    }
    build.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
