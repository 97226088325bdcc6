//! Benchmark of the nearest-asset look-up intake makes for a report of a service with an asset
//! layer: 1,000 to 100,000 streetlights spread over Hartford's box, a query point anywhere in it,
//! the nearest within 30 m (found or not) and the nearest at any distance; plus the demo city's
//! own layer, and building the 100,000-asset index as a cold start does.

use std::path::Path;

use cityfix_config::read_asset_layer;
use cityfix_domain::{Asset, AssetLayer, Location};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Hartford's box, as the routing benchmark's.
const WEST: f64 = -72.72;
const SOUTH: f64 = 41.72;
const SIZE: f64 = 0.09;
const QUERIES: usize = 10_000;

fn random_location(rng: &mut StdRng) -> Location {
    Location::new(
        SOUTH + rng.gen::<f64>() * SIZE,
        WEST + rng.gen::<f64>() * SIZE,
    )
    .unwrap()
}

fn layer(count: usize, rng: &mut StdRng) -> Vec<Asset> {
    (0..count)
        .map(|i| Asset {
            id: format!("SL-{i:06}"),
            label: None,
            location: random_location(rng),
        })
        .collect()
}

fn nearest_asset(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(14);
    let queries: Vec<Location> = (0..QUERIES).map(|_| random_location(&mut rng)).collect();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/hartford/assets/streetlights.geojson");
    let mut layers: Vec<(String, AssetLayer)> = [1_000, 10_000, 100_000]
        .into_iter()
        .map(|count| {
            let assets = layer(count, &mut rng);
            (count.to_string(), AssetLayer::new("bench", assets).unwrap())
        })
        .collect();
    layers.push((
        "hartford-demo".into(),
        read_asset_layer(&demo, "streetlights", "pole_id", Some("label"), None).unwrap(),
    ));

    let mut within = c.benchmark_group("nearest_within_30m");
    for (name, layer) in &layers {
        let mut next = 0;
        within.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                next = (next + 1) % queries.len();
                layer
                    .nearest_within(queries[next], 30.0)
                    .map(|(a, _)| a.id.len())
            })
        });
    }
    within.finish();

    let mut anywhere = c.benchmark_group("nearest_any_distance");
    for (name, layer) in &layers {
        let mut next = 0;
        anywhere.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                next = (next + 1) % queries.len();
                layer
                    .nearest_within(queries[next], f64::INFINITY)
                    .map(|(a, _)| a.id.len())
            })
        });
    }
    anywhere.finish();

    let mut build = c.benchmark_group("build");
    build.sample_size(10);
    let assets = layer(100_000, &mut rng);
    build.bench_function(BenchmarkId::from_parameter(100_000), |b| {
        b.iter_batched(
            || assets.clone(),
            |assets| AssetLayer::new("bench", assets).unwrap(),
            BatchSize::LargeInput,
        )
    });
    build.finish();
}

criterion_group!(benches, nearest_asset);
criterion_main!(benches);
