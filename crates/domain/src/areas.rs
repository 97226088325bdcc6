//! Fast place look-ups, prepared once: which areas contain a point, and which owned road lines pass near it.

use geo::{BoundingRect, Coord, Distance, Euclidean, Line, LineString, MultiPolygon, Point, Rect};
use rstar::{RTree, RTreeObject, AABB};
use serde::{Deserialize, Serialize};

/// A named area of a layer (a neighbourhood, a district, a neighbouring town).
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub name: String,
    pub shape: MultiPolygon<f64>,
}

/// A road centreline someone owns, with the distance from it that still counts as "on" it.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedLine {
    pub name: String,
    pub owner: String,
    pub buffer_m: f64,
    pub shape: LineString<f64>,
}

/// Edges per band, on average, that an area is split into: a look-up tests only one band's edges.
pub const EDGES_PER_BAND: usize = 4;

/// Metres in a degree of latitude (and of longitude at the equator), near enough for buffers of metres.
const METRES_PER_DEGREE: f64 = 111_320.0;

/// An area split into horizontal bands. Each band holds the edges (of every ring) that cross its
/// latitudes, so whether a point is inside is decided by the few edges of the point's band: a ray
/// to the east crosses them an odd number of times, or the point lies on one of them.
struct BandedArea {
    area: usize,
    envelope: AABB<[f64; 2]>,
    south: f64,
    band_height: f64,
    /// Where each band's edges start in `edges`; one more entry than there are bands.
    band_starts: Vec<u32>,
    edges: Vec<[f64; 4]>,
}

impl RTreeObject for BandedArea {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

impl BandedArea {
    fn new(area: usize, shape: &MultiPolygon<f64>) -> Option<Self> {
        let rect = shape.bounding_rect()?;
        let segments: Vec<[f64; 4]> = shape
            .iter()
            .flat_map(|polygon| std::iter::once(polygon.exterior()).chain(polygon.interiors()))
            .flat_map(|ring| ring.lines())
            .map(|line| [line.start.x, line.start.y, line.end.x, line.end.y])
            .collect();
        let (south, north) = (rect.min().y, rect.max().y);
        let bands = (segments.len() / EDGES_PER_BAND).max(1);
        let band_height = ((north - south) / bands as f64).max(f64::MIN_POSITIVE);
        let band_of = |y: f64| (((y - south) / band_height) as usize).min(bands - 1);
        let mut per_band: Vec<Vec<[f64; 4]>> = vec![Vec::new(); bands];
        for segment in &segments {
            let (low, high) = (segment[1].min(segment[3]), segment[1].max(segment[3]));
            for band in per_band
                .iter_mut()
                .take(band_of(high) + 1)
                .skip(band_of(low))
            {
                band.push(*segment);
            }
        }
        let mut band_starts = Vec::with_capacity(bands + 1);
        let mut edges = Vec::new();
        for band in per_band {
            band_starts.push(edges.len() as u32);
            edges.extend(band);
        }
        band_starts.push(edges.len() as u32);
        Some(BandedArea {
            area,
            envelope: envelope_of(rect),
            south,
            band_height,
            band_starts,
            edges,
        })
    }

    /// Whether the point is inside the area or on its boundary.
    fn holds(&self, x: f64, y: f64) -> bool {
        let bands = self.band_starts.len() - 1;
        let band = (((y - self.south) / self.band_height).max(0.0) as usize).min(bands - 1);
        let edges =
            &self.edges[self.band_starts[band] as usize..self.band_starts[band + 1] as usize];
        let mut inside = false;
        for &[ax, ay, bx, by] in edges {
            if on_segment(x, y, ax, ay, bx, by) {
                return true;
            }
            if (ay > y) != (by > y) && x < ax + (y - ay) * (bx - ax) / (by - ay) {
                inside = !inside;
            }
        }
        inside
    }
}

/// Whether (x, y) lies on the segment from (ax, ay) to (bx, by).
fn on_segment(x: f64, y: f64, ax: f64, ay: f64, bx: f64, by: f64) -> bool {
    x >= ax.min(bx)
        && x <= ax.max(bx)
        && y >= ay.min(by)
        && y <= ay.max(by)
        && (bx - ax) * (y - ay) == (by - ay) * (x - ax)
}

fn envelope_of(rect: Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y])
}

/// An R-tree over the areas of one layer, each split into bands of a few edges.
pub struct AreaIndex {
    names: Vec<String>,
    tree: RTree<BandedArea>,
}

impl AreaIndex {
    /// Prepares the look-up. Areas keep their order: on a shared edge the first one wins.
    pub fn build(areas: &[Area]) -> Self {
        let banded = areas
            .iter()
            .enumerate()
            .filter_map(|(index, area)| BandedArea::new(index, &area.shape))
            .collect();
        AreaIndex {
            names: areas.iter().map(|a| a.name.clone()).collect(),
            tree: RTree::bulk_load(banded),
        }
    }

    fn holding(&self, point: Point<f64>) -> impl Iterator<Item = usize> + '_ {
        let (x, y) = (point.x(), point.y());
        self.tree
            .locate_in_envelope_intersecting(&AABB::from_point([x, y]))
            .filter(move |area| area.holds(x, y))
            .map(|area| area.area)
    }

    /// Every area whose closure holds the point, in layer order.
    pub fn areas_at(&self, point: Point<f64>) -> Vec<usize> {
        let mut found: Vec<usize> = self.holding(point).collect();
        found.sort_unstable();
        found
    }

    /// The first area (in layer order) holding the point: the same answer every time, even on an edge or vertex.
    pub fn first_at(&self, point: Point<f64>) -> Option<usize> {
        self.holding(point).min()
    }

    pub fn name(&self, area: usize) -> &str {
        &self.names[area]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// How many bands the areas were split into.
    pub fn pieces(&self) -> usize {
        self.tree
            .iter()
            .map(|area| area.band_starts.len() - 1)
            .sum()
    }
}

/// A road segment in the line index.
struct Segment {
    line: usize,
    start: [f64; 2],
    end: [f64; 2],
}

impl RTreeObject for Segment {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(self.start, self.end)
    }
}

/// A line near a point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Nearby {
    pub line: usize,
    pub distance_m: f64,
}

/// An R-tree over the segments of owned lines, for "is this point on that road?".
pub struct LineIndex {
    buffers: Vec<f64>,
    widest_buffer_m: f64,
    tree: RTree<Segment>,
}

impl LineIndex {
    pub fn build(lines: &[OwnedLine]) -> Self {
        let segments = lines
            .iter()
            .enumerate()
            .flat_map(|(index, line)| {
                line.shape.lines().map(move |segment| Segment {
                    line: index,
                    start: [segment.start.x, segment.start.y],
                    end: [segment.end.x, segment.end.y],
                })
            })
            .collect();
        LineIndex {
            buffers: lines.iter().map(|l| l.buffer_m).collect(),
            widest_buffer_m: lines.iter().map(|l| l.buffer_m).fold(0.0, f64::max),
            tree: RTree::bulk_load(segments),
        }
    }

    /// The nearest line whose buffer holds the point (ties go to the earlier line).
    pub fn nearest_within_buffer(&self, point: Point<f64>) -> Option<Nearby> {
        self.within_buffer(point).into_iter().min_by(|a, b| {
            a.distance_m
                .total_cmp(&b.distance_m)
                .then(a.line.cmp(&b.line))
        })
    }

    /// Every line whose buffer holds the point, each once with its distance, in line order.
    pub fn within_buffer(&self, point: Point<f64>) -> Vec<Nearby> {
        let (x, y) = (point.x(), point.y());
        let metres_per_degree_x = METRES_PER_DEGREE * y.to_radians().cos().max(0.01);
        let reach_x = self.widest_buffer_m / metres_per_degree_x;
        let reach_y = self.widest_buffer_m / METRES_PER_DEGREE;
        let search = AABB::from_corners([x - reach_x, y - reach_y], [x + reach_x, y + reach_y]);
        let to_metres = |c: [f64; 2]| Coord {
            x: (c[0] - x) * metres_per_degree_x,
            y: (c[1] - y) * METRES_PER_DEGREE,
        };
        let mut found: Vec<Nearby> = Vec::new();
        for segment in self.tree.locate_in_envelope_intersecting(&search) {
            let line = Line::new(to_metres(segment.start), to_metres(segment.end));
            let distance_m = Euclidean.distance(&Point::new(0.0, 0.0), &line);
            if distance_m > self.buffers[segment.line] {
                continue;
            }
            match found.iter_mut().find(|n| n.line == segment.line) {
                Some(known) => known.distance_m = known.distance_m.min(distance_m),
                None => found.push(Nearby {
                    line: segment.line,
                    distance_m,
                }),
            }
        }
        found.sort_by_key(|n| n.line);
        found
    }
}

/// Metres between two points (equirectangular; exact enough within a city).
pub fn distance_m(a: Point<f64>, b: Point<f64>) -> f64 {
    let mean_lat = ((a.y() + b.y()) / 2.0).to_radians();
    let dx = (a.x() - b.x()) * METRES_PER_DEGREE * mean_lat.cos();
    let dy = (a.y() - b.y()) * METRES_PER_DEGREE;
    (dx * dx + dy * dy).sqrt()
}

#[cfg(test)]
mod tests {
    use geo::{polygon, Contains, Coord, Polygon};

    use super::*;

    fn square(name: &str, west: f64, south: f64, size: f64) -> Area {
        Area {
            name: name.into(),
            shape: MultiPolygon(vec![polygon![
                (x: west, y: south), (x: west + size, y: south), (x: west + size, y: south + size), (x: west, y: south + size), (x: west, y: south)
            ]]),
        }
    }

    /// A circle-ish polygon of `n` vertices, to force splitting.
    fn disc(name: &str, cx: f64, cy: f64, r: f64, n: usize) -> Area {
        let mut ring: Vec<Coord<f64>> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                Coord {
                    x: cx + r * t.cos(),
                    y: cy + r * t.sin(),
                }
            })
            .collect();
        ring.push(ring[0]);
        Area {
            name: name.into(),
            shape: MultiPolygon(vec![Polygon::new(LineString(ring), vec![])]),
        }
    }

    #[test]
    fn finds_the_area_holding_a_point() {
        let index = AreaIndex::build(&[square("A", 0.0, 0.0, 1.0), square("B", 1.0, 0.0, 1.0)]);
        assert_eq!(index.areas_at(Point::new(0.5, 0.5)), [0]);
        assert_eq!(index.areas_at(Point::new(1.5, 0.5)), [1]);
        assert!(index.areas_at(Point::new(3.0, 0.5)).is_empty());
    }

    #[test]
    fn edges_and_vertices_answer_the_same_way_every_time() {
        let index = AreaIndex::build(&[square("A", 0.0, 0.0, 1.0), square("B", 1.0, 0.0, 1.0)]);
        for point in [
            Point::new(1.0, 0.5),
            Point::new(1.0, 0.0),
            Point::new(1.0, 1.0),
        ] {
            assert_eq!(index.areas_at(point), [0, 1]);
            assert_eq!(index.first_at(point), Some(0));
        }
        assert_eq!(index.first_at(Point::new(0.0, 0.0)), Some(0));
    }

    #[test]
    fn holes_are_outside_and_their_edges_inside() {
        let ring = |c: &[(f64, f64)]| LineString::from(c.to_vec());
        let with_hole = Area {
            name: "Ring".into(),
            shape: MultiPolygon(vec![Polygon::new(
                ring(&[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)]),
                vec![ring(&[
                    (1.0, 1.0),
                    (3.0, 1.0),
                    (3.0, 3.0),
                    (1.0, 3.0),
                    (1.0, 1.0),
                ])],
            )]),
        };
        let index = AreaIndex::build(&[with_hole]);
        assert!(index.first_at(Point::new(0.5, 2.0)).is_some());
        assert!(
            index.first_at(Point::new(2.0, 2.0)).is_none(),
            "in the hole"
        );
        assert!(
            index.first_at(Point::new(1.0, 2.0)).is_some(),
            "on the hole's edge"
        );
        assert!(
            index.first_at(Point::new(4.0, 4.0)).is_some(),
            "on the outer corner"
        );
    }

    #[test]
    fn splitting_keeps_every_answer_of_the_whole_polygon() {
        let big = disc("Big", 0.0, 0.0, 1.0, 1000);
        let index = AreaIndex::build(std::slice::from_ref(&big));
        assert!(
            index.pieces() > 15,
            "a 1000-vertex polygon is split ({} pieces)",
            index.pieces()
        );
        let mut checked = 0;
        for i in -40..=40 {
            for j in -40..=40 {
                let point = Point::new(i as f64 * 0.026, j as f64 * 0.026);
                let whole = big.shape.contains(&point);
                let near_edge = (point.x().hypot(point.y()) - 1.0).abs() < 1e-3;
                if !near_edge {
                    assert_eq!(!index.areas_at(point).is_empty(), whole, "{point:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 6000);
    }

    #[test]
    fn a_point_within_a_lines_buffer_is_on_it() {
        let road = OwnedLine {
            name: "Route 1".into(),
            owner: "DOT".into(),
            buffer_m: 20.0,
            shape: LineString::from(vec![(-72.70, 41.76), (-72.66, 41.76)]),
        };
        let index = LineIndex::build(&[road]);
        let ten_metres_north = Point::new(-72.68, 41.76 + 10.0 / METRES_PER_DEGREE);
        let on = index.nearest_within_buffer(ten_metres_north).unwrap();
        assert!((on.distance_m - 10.0).abs() < 0.1, "{on:?}");
        assert!(index
            .nearest_within_buffer(Point::new(-72.68, 41.76 + 30.0 / METRES_PER_DEGREE))
            .is_none());
        assert!(
            index
                .nearest_within_buffer(Point::new(-72.65, 41.76))
                .is_none(),
            "past the end of the line"
        );
    }

    #[test]
    fn distances_are_in_metres() {
        let a = Point::new(-72.68, 41.76);
        let b = Point::new(-72.68, 41.76 + 100.0 / METRES_PER_DEGREE);
        assert!((distance_m(a, b) - 100.0).abs() < 0.01);
    }
}
