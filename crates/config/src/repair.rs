//! Repairing area shapes that are not valid polygons, and naming each fault with the coordinate where it lies.
//!
//! The rule (docs/gis-layers.md): each ring is read by the even-odd rule, so a ring that crosses or
//! touches itself keeps the ground a ray-crossing test finds inside it; a polygon is its shell less
//! the union of its holes; a feature is the union of its polygons. geo's boolean operations
//! (i_overlay, with OGC output) build the result, which is checked valid again.

use geo::algorithm::bool_ops::FillRule;
use geo::algorithm::validation::{InvalidMultiPolygon, InvalidPolygon, RingRole};
use geo::line_intersection::{line_intersection, LineIntersection};
use geo::{
    BooleanOps, Contains, Coord, InteriorPoint, Line, LineString, MultiPolygon, Polygon, Validation,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::layer_faults::FaultKind;

/// One fault of a shape, with where it lies.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShapeFault {
    pub(crate) kind: FaultKind,
    pub(crate) at: Option<Coord<f64>>,
    pub(crate) detail: String,
}

/// The faults of a shape and, when it has any, the repaired shape (`None` when repair leaves
/// nothing valid).
pub(crate) fn diagnose(shape: &MultiPolygon<f64>) -> (Vec<ShapeFault>, Option<MultiPolygon<f64>>) {
    let mut faults = spikes(shape);
    if shape.is_valid() && faults.is_empty() {
        return (faults, Some(shape.clone()));
    }
    let _ = shape.visit_validation(Box::new(|problem| {
        if let Some(fault) = describe(shape, &problem) {
            let repeated = faults
                .iter()
                .any(|f| f.kind == fault.kind && f.at == fault.at);
            if !repeated {
                faults.push(fault);
            }
        }
        Ok::<(), ()>(())
    }));
    let repaired = repair(shape);
    if repaired.0.is_empty() || !repaired.is_valid() {
        return (faults, None);
    }
    if faults.is_empty() {
        // Valid by geo's rules yet changed by none we name: nothing to report or repair.
        return (faults, Some(shape.clone()));
    }
    (faults, Some(repaired))
}

/// The repaired shape by the rule in this module's documentation.
pub(crate) fn repair(shape: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let mut result = MultiPolygon::new(Vec::new());
    for polygon in shape {
        let shell = even_odd(polygon.exterior());
        let holes = polygon
            .interiors()
            .iter()
            .fold(MultiPolygon::new(Vec::new()), |holes, ring| {
                holes.union(&even_odd(ring))
            });
        let part = if holes.0.is_empty() {
            shell
        } else {
            shell.difference(&holes)
        };
        result = if result.0.is_empty() {
            part
        } else {
            result.union(&part)
        };
    }
    result
}

/// The ground a ring encloses by the even-odd rule, as valid polygons.
fn even_odd(ring: &LineString<f64>) -> MultiPolygon<f64> {
    Polygon::new(ring.clone(), Vec::new())
        .union_with_fill_rule(&MultiPolygon::new(Vec::new()), FillRule::EvenOdd)
}

fn ring_of<'a>(polygon: &'a Polygon<f64>, role: &RingRole) -> &'a LineString<f64> {
    match role {
        RingRole::Exterior => polygon.exterior(),
        RingRole::Interior(i) => &polygon.interiors()[*i],
    }
}

fn ring_name(role: &RingRole) -> String {
    match role {
        RingRole::Exterior => "the outer ring".into(),
        RingRole::Interior(i) => format!("hole {}", i + 1),
    }
}

/// A fault geo's validation found, in the city's words, with its coordinate.
fn describe(shape: &MultiPolygon<f64>, problem: &InvalidMultiPolygon) -> Option<ShapeFault> {
    let part = |i: usize| &shape.0[i];
    let fault = |kind, at, detail: String| Some(ShapeFault { kind, at, detail });
    match problem {
        InvalidMultiPolygon::InvalidPolygon(index, invalid) => {
            let polygon = part(index.0);
            let prefix = if shape.0.len() > 1 {
                format!("part {}: ", index.0 + 1)
            } else {
                String::new()
            };
            match invalid {
                InvalidPolygon::SelfIntersection(role) => {
                    // Spikes are named by `spikes`; what is left is a crossing or a touch.
                    let ring = without_spikes(ring_of(polygon, role));
                    let (kind, at) = match first_meeting(&ring, None)? {
                        (at, Meeting::Cross) => (FaultKind::SelfCrossing, at),
                        (at, Meeting::Touch | Meeting::Overlap) => (FaultKind::SelfTouch, at),
                    };
                    fault(kind, Some(at), format!("{prefix}{}", ring_name(role)))
                }
                InvalidPolygon::TooFewPointsInRing(role) => fault(
                    FaultKind::CollapsedRing,
                    ring_of(polygon, role).0.first().copied(),
                    format!(
                        "{prefix}{} has fewer than 3 distinct points",
                        ring_name(role)
                    ),
                ),
                InvalidPolygon::NonFiniteCoord(role, _) => fault(
                    FaultKind::CollapsedRing,
                    None,
                    format!(
                        "{prefix}{} has a coordinate that is not a number",
                        ring_name(role)
                    ),
                ),
                InvalidPolygon::InteriorRingNotContainedInExteriorRing(role) => {
                    let hole = ring_of(polygon, role);
                    let (kind, at) = match first_meeting(hole, Some(polygon.exterior())) {
                        Some((at, _)) => (FaultKind::HoleCrossesRing, Some(at)),
                        None => (FaultKind::HoleOutsideShell, hole.0.first().copied()),
                    };
                    fault(kind, at, format!("{prefix}{}", ring_name(role)))
                }
                InvalidPolygon::IntersectingRingsOnALine(a, b)
                | InvalidPolygon::IntersectingRingsOnAnArea(a, b) => {
                    let at = first_meeting(ring_of(polygon, a), Some(ring_of(polygon, b)))
                        .map(|(at, _)| at);
                    fault(
                        FaultKind::HoleCrossesRing,
                        at,
                        format!("{prefix}{} and {}", ring_name(a), ring_name(b)),
                    )
                }
            }
        }
        InvalidMultiPolygon::ElementsOverlaps(a, b) => {
            let (pa, pb) = (part(a.0), part(b.0));
            let kind = if pa.contains(pb) || pb.contains(pa) {
                FaultKind::NestedShells
            } else {
                FaultKind::OverlappingParts
            };
            let at = pa.intersection(pb).interior_point().map(|p| p.0);
            fault(kind, at, format!("parts {} and {}", a.0 + 1, b.0 + 1))
        }
        InvalidMultiPolygon::ElementsTouchOnALine(a, b) => {
            let at =
                first_meeting(part(a.0).exterior(), Some(part(b.0).exterior())).map(|(at, _)| at);
            fault(
                FaultKind::PartsShareEdge,
                at,
                format!("parts {} and {}", a.0 + 1, b.0 + 1),
            )
        }
    }
}

/// Spikes: a ring that runs out and straight back along itself, enclosing nothing.
fn spikes(shape: &MultiPolygon<f64>) -> Vec<ShapeFault> {
    let mut found = Vec::new();
    for (p, polygon) in shape.0.iter().enumerate() {
        let rings = std::iter::once((RingRole::Exterior, polygon.exterior())).chain(
            polygon
                .interiors()
                .iter()
                .enumerate()
                .map(|(i, r)| (RingRole::Interior(i), r)),
        );
        for (role, ring) in rings {
            if let Some(tip) = spike_tip(ring) {
                let prefix = if shape.0.len() > 1 {
                    format!("part {}: ", p + 1)
                } else {
                    String::new()
                };
                found.push(ShapeFault {
                    kind: FaultKind::Spike,
                    at: Some(tip),
                    detail: format!("{prefix}{}", ring_name(&role)),
                });
            }
        }
    }
    found
}

/// The tip of the first spike of a closed ring: a vertex where the ring turns straight back.
fn spike_tip(ring: &LineString<f64>) -> Option<Coord<f64>> {
    let mut points: Vec<Coord<f64>> = ring.0.clone();
    points.dedup();
    if points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    let n = points.len();
    if n < 3 {
        return None;
    }
    (0..n).find_map(|i| {
        let (before, tip, after) = (points[(i + n - 1) % n], points[i], points[(i + 1) % n]);
        let (u, v) = (before - tip, after - tip);
        let cross = u.x * v.y - u.y * v.x;
        let dot = u.x * v.x + u.y * v.y;
        let scale = (u.x.hypot(u.y) * v.x.hypot(v.y)).max(f64::MIN_POSITIVE);
        (cross.abs() <= 1e-12 * scale && dot > 0.0).then_some(tip)
    })
}

/// The ring with its spikes cut off, tip by tip.
fn without_spikes(ring: &LineString<f64>) -> LineString<f64> {
    let mut points = ring.0.clone();
    while let Some(tip) = spike_tip(&LineString(points.clone())) {
        let at = points.iter().position(|p| *p == tip).unwrap_or_default();
        points.remove(at);
        points.dedup();
        if at == 0 {
            // The ring's first position was the tip: close the ring again on its new first.
            points.pop();
            if let Some(&first) = points.first() {
                points.push(first);
            }
        }
        if points.len() < 4 {
            break;
        }
    }
    LineString(points)
}

/// How two segments meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meeting {
    /// They cross through each other's interiors.
    Cross,
    /// They touch at a point that is an end of one of them.
    Touch,
    /// They run along each other.
    Overlap,
}

type Indexed = GeomWithData<Rectangle<[f64; 2]>, usize>;

fn segments(ring: &LineString<f64>) -> Vec<Line<f64>> {
    ring.lines().filter(|l| l.start != l.end).collect()
}

/// Where `ring` first meets `other` (or itself, skipping neighbouring segments, when `other` is
/// `None`), in the order of the ring's segments so the answer is the same every run.
fn first_meeting(
    ring: &LineString<f64>,
    other: Option<&LineString<f64>>,
) -> Option<(Coord<f64>, Meeting)> {
    let own = segments(ring);
    let theirs = other.map(segments).unwrap_or_else(|| own.clone());
    let tree: RTree<Indexed> = RTree::bulk_load(
        theirs
            .iter()
            .enumerate()
            .map(|(j, l)| {
                let (a, b) = (l.start, l.end);
                GeomWithData::new(Rectangle::from_corners([a.x, a.y], [b.x, b.y]), j)
            })
            .collect(),
    );
    let n = own.len();
    for (i, segment) in own.iter().enumerate() {
        let (a, b) = (segment.start, segment.end);
        let query = AABB::from_corners([a.x.min(b.x), a.y.min(b.y)], [a.x.max(b.x), a.y.max(b.y)]);
        let mut candidates: Vec<usize> = tree
            .locate_in_envelope_intersecting(&query)
            .map(|c| c.data)
            .filter(|&j| other.is_some() || (j > i + 1 && !(i == 0 && j + 1 == n)))
            .collect();
        candidates.sort_unstable();
        for j in candidates {
            match line_intersection(*segment, theirs[j]) {
                Some(LineIntersection::SinglePoint {
                    intersection,
                    is_proper,
                }) => {
                    let meeting = if is_proper {
                        Meeting::Cross
                    } else {
                        Meeting::Touch
                    };
                    return Some((intersection, meeting));
                }
                Some(LineIntersection::Collinear { intersection }) => {
                    return Some((intersection.start, Meeting::Overlap))
                }
                None => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Intersects, Point};

    fn shape(rings: &[&[(f64, f64)]]) -> MultiPolygon<f64> {
        let ring = |r: &&[(f64, f64)]| LineString::from(r.to_vec());
        let (exterior, interiors) = rings.split_first().unwrap();
        MultiPolygon(vec![Polygon::new(
            ring(exterior),
            interiors.iter().map(ring).collect(),
        )])
    }

    #[test]
    fn a_bow_tie_becomes_its_two_triangles_and_is_named_where_it_crosses() {
        let bow_tie = shape(&[&[(0.0, 0.0), (2.0, 2.0), (2.0, 0.0), (0.0, 2.0), (0.0, 0.0)]]);
        let (faults, repaired) = diagnose(&bow_tie);
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert_eq!(faults[0].kind, FaultKind::SelfCrossing);
        assert_eq!(faults[0].at, Some(Coord { x: 1.0, y: 1.0 }));
        let repaired = repaired.unwrap();
        assert!(repaired.is_valid());
        assert_eq!(repaired.0.len(), 2);
        assert!((repaired.unsigned_area() - 2.0).abs() < 1e-9);
        assert!(repaired.intersects(&Point::new(0.2, 1.0)));
        assert!(!repaired.intersects(&Point::new(1.0, 0.2)));
    }

    #[test]
    fn a_ring_touching_itself_keeps_the_loop_it_closes_as_a_hole() {
        let touching = shape(&[&[
            (0.0, 0.0),
            (4.0, 0.0),
            (4.0, 4.0),
            (2.0, 4.0),
            (3.0, 2.0),
            (1.0, 2.0),
            (2.0, 4.0),
            (0.0, 4.0),
            (0.0, 0.0),
        ]]);
        let (faults, repaired) = diagnose(&touching);
        assert_eq!(faults[0].kind, FaultKind::SelfTouch, "{faults:?}");
        assert_eq!(faults[0].at, Some(Coord { x: 2.0, y: 4.0 }));
        let repaired = repaired.unwrap();
        assert!(!repaired.intersects(&Point::new(2.0, 3.0)), "{repaired:?}");
        assert!(repaired.intersects(&Point::new(2.0, 1.0)));
    }

    #[test]
    fn a_spike_is_named_at_its_tip_and_cut_off() {
        let spiked = shape(&[&[
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 2.0),
            (1.0, 2.0),
            (1.0, 5.0),
            (1.0, 2.0),
            (0.0, 2.0),
            (0.0, 0.0),
        ]]);
        let (faults, repaired) = diagnose(&spiked);
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert_eq!(faults[0].kind, FaultKind::Spike);
        assert_eq!(faults[0].at, Some(Coord { x: 1.0, y: 5.0 }));
        let repaired = repaired.unwrap();
        assert!((repaired.unsigned_area() - 4.0).abs() < 1e-9);
        assert!(spike_tip(repaired.0[0].exterior()).is_none());
    }

    #[test]
    fn nested_shells_become_the_outer_one() {
        let outer = Polygon::new(
            LineString::from(vec![
                (0.0, 0.0),
                (4.0, 0.0),
                (4.0, 4.0),
                (0.0, 4.0),
                (0.0, 0.0),
            ]),
            vec![],
        );
        let inner = Polygon::new(
            LineString::from(vec![
                (1.0, 1.0),
                (2.0, 1.0),
                (2.0, 2.0),
                (1.0, 2.0),
                (1.0, 1.0),
            ]),
            vec![],
        );
        let (faults, repaired) = diagnose(&MultiPolygon(vec![outer, inner]));
        assert_eq!(faults[0].kind, FaultKind::NestedShells, "{faults:?}");
        assert!((repaired.unwrap().unsigned_area() - 16.0).abs() < 1e-9);
    }

    #[test]
    fn a_hole_across_its_shell_is_cut_out_of_it() {
        let crossed = shape(&[
            &[(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0), (0.0, 0.0)],
            &[(3.0, 1.0), (5.0, 1.0), (5.0, 2.0), (3.0, 2.0), (3.0, 1.0)],
        ]);
        let (faults, repaired) = diagnose(&crossed);
        assert_eq!(faults[0].kind, FaultKind::HoleCrossesRing, "{faults:?}");
        assert_eq!(faults[0].at, Some(Coord { x: 4.0, y: 1.0 }));
        assert!((repaired.unwrap().unsigned_area() - 15.0).abs() < 1e-9);
    }

    #[test]
    fn a_valid_shape_is_kept_exactly() {
        let square = shape(&[&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]]);
        let (faults, repaired) = diagnose(&square);
        assert!(faults.is_empty());
        assert_eq!(repaired, Some(square));
    }

    #[test]
    fn a_ring_that_encloses_nothing_cannot_be_repaired() {
        let flat = shape(&[&[(0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (1.0, 0.0), (0.0, 0.0)]]);
        let (faults, repaired) = diagnose(&flat);
        assert!(!faults.is_empty());
        assert_eq!(repaired, None);
    }
}
