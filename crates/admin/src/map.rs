//! The queue as a map: the city's area layers drawn once, at start, as SVG paths in Web Mercator
//! at one zoom (so the city folder's slippy-map tiles line up under them when a script lays them),
//! and a queue page's requests placed on the same drawing as marks.

use cityfix_config::MapLayer;
use cityfix_domain::Location;
use serde::Serialize;
use serde_json::{json, Value};

/// The longest side of the drawing, in pixels of its zoom: the zoom is the largest that keeps it.
const LONGEST_SIDE: f64 = 1600.0;
/// The zooms a drawing may have (a city, or a town of a few streets).
const ZOOMS: std::ops::RangeInclusive<u8> = 8..=18;
/// Room left around the city, in pixels of the drawing.
const MARGIN: f64 = 12.0;
/// A ring's points closer than this (pixels) to the one drawn before are left out.
const SIMPLIFY: f64 = 0.75;
/// Pixels of a tile.
const TILE: f64 = 256.0;

/// An area of a layer as drawn.
#[derive(Debug, Clone, Serialize)]
struct Shape {
    name: String,
    /// SVG path data in the drawing's pixels (numbers only).
    path: String,
}

/// A layer as drawn.
#[derive(Debug, Clone, Serialize)]
struct Layer {
    id: String,
    /// What the legend calls it: "City limits", "Neighbourhoods".
    name: String,
    /// `boundary`, `shaded` (the first area layer) or `outlined` (the others).
    look: &'static str,
    shapes: Vec<Shape>,
}

/// The city drawn for the queue's map, once.
#[derive(Debug, Clone)]
pub struct CityMap {
    zoom: u8,
    /// The drawing's top-left corner, in world pixels at `zoom`.
    origin: (f64, f64),
    width: f64,
    height: f64,
    layers: Vec<Layer>,
    tile_url: Option<String>,
    tile_attribution: Option<String>,
}

/// World pixels of a point at `zoom` (Web Mercator, as slippy-map tiles are cut).
fn world_pixel(lat: f64, long: f64, zoom: u8) -> (f64, f64) {
    let scale = TILE * f64::from(1u32 << zoom);
    let x = (long + 180.0) / 360.0 * scale;
    let lat = lat.clamp(-85.0511, 85.0511).to_radians();
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * scale;
    (x, y)
}

fn layer_name(id: &str) -> String {
    if id == "boundary" {
        return "City limits".into();
    }
    let words = id.replace(['_', '-'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl CityMap {
    /// The drawing of `layers` (the boundary first), framed on the boundary, or on the city's
    /// centre when there are no shapes; with the city folder's tile template, if it has one.
    pub fn new(
        layers: &[MapLayer],
        center: Location,
        tile_url: Option<String>,
        tile_attribution: Option<String>,
    ) -> CityMap {
        // The frame, in degrees: the boundary's (else every layer's) box, or a few streets.
        let mut frame: Option<(f64, f64, f64, f64)> = None;
        let framing = layers
            .iter()
            .find(|l| l.id == "boundary" && !l.areas.is_empty())
            .into_iter()
            .chain(layers.iter().filter(|l| l.id != "boundary"));
        for layer in framing {
            for area in &layer.areas {
                for polygon in area.shape.iter() {
                    for c in polygon.exterior().coords() {
                        let (w, s, e, n) = frame.unwrap_or((c.x, c.y, c.x, c.y));
                        frame = Some((w.min(c.x), s.min(c.y), e.max(c.x), n.max(c.y)));
                    }
                }
            }
            if frame.is_some() && layer.id == "boundary" {
                break;
            }
        }
        let (west, south, east, north) = frame.unwrap_or((
            center.long() - 0.02,
            center.lat() - 0.015,
            center.long() + 0.02,
            center.lat() + 0.015,
        ));
        let size = |zoom: u8| {
            let (x0, y0) = world_pixel(north, west, zoom);
            let (x1, y1) = world_pixel(south, east, zoom);
            (x1 - x0, y1 - y0)
        };
        let zoom = ZOOMS
            .rev()
            .find(|&z| {
                let (w, h) = size(z);
                w.max(h) + 2.0 * MARGIN <= LONGEST_SIDE
            })
            .unwrap_or(*ZOOMS.start());
        let (x0, y0) = world_pixel(north, west, zoom);
        let (w, h) = size(zoom);
        let origin = ((x0 - MARGIN).floor(), (y0 - MARGIN).floor());
        let mut map = CityMap {
            zoom,
            origin,
            width: (w + 2.0 * MARGIN).ceil(),
            height: (h + 2.0 * MARGIN).ceil(),
            layers: Vec::new(),
            tile_url,
            tile_attribution,
        };
        let mut shaded = false;
        map.layers = layers
            .iter()
            .map(|layer| {
                let look = if layer.id == "boundary" {
                    "boundary"
                } else if !shaded {
                    shaded = true;
                    "shaded"
                } else {
                    "outlined"
                };
                Layer {
                    id: layer.id.clone(),
                    name: layer_name(&layer.id),
                    look,
                    shapes: layer
                        .areas
                        .iter()
                        .map(|area| Shape {
                            name: area.name.clone(),
                            path: map.path(&area.shape),
                        })
                        .collect(),
                }
            })
            .collect();
        // The boundary is drawn last, over the areas.
        map.layers.sort_by_key(|l| l.look == "boundary");
        map
    }

    /// Where a point falls on the drawing, in its pixels; `None` outside it.
    pub fn place(&self, lat: f64, long: f64) -> Option<(f64, f64)> {
        let (x, y) = world_pixel(lat, long, self.zoom);
        let (x, y) = (x - self.origin.0, y - self.origin.1);
        ((0.0..=self.width).contains(&x) && (0.0..=self.height).contains(&y))
            .then(|| ((x * 10.0).round() / 10.0, (y * 10.0).round() / 10.0))
    }

    /// SVG path data of a shape: each ring a closed run of points, near neighbours left out.
    fn path(&self, shape: &geo::MultiPolygon<f64>) -> String {
        let mut path = String::new();
        for polygon in shape.iter() {
            for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                let mut last: Option<(f64, f64)> = None;
                let mut drawn = 0;
                for c in ring.coords() {
                    let (x, y) = world_pixel(c.y, c.x, self.zoom);
                    let (x, y) = (x - self.origin.0, y - self.origin.1);
                    if let Some((lx, ly)) = last {
                        if (x - lx).hypot(y - ly) < SIMPLIFY {
                            continue;
                        }
                    }
                    path.push_str(if drawn == 0 { "M" } else { "L" });
                    path.push_str(&format!("{:.1} {:.1}", x, y));
                    last = Some((x, y));
                    drawn += 1;
                }
                if drawn > 0 {
                    path.push('Z');
                }
            }
        }
        path
    }

    /// What the template draws: the frame, the layers, and what a script needs to lay tiles.
    pub fn view(&self) -> Value {
        json!({
            "width": self.width,
            "height": self.height,
            "zoom": self.zoom,
            "origin_x": self.origin.0,
            "origin_y": self.origin.1,
            "layers": self.layers,
            // About 1/100 of the longest side: a mark a finger or a pointer finds at any width.
            "mark_radius": (self.width.max(self.height) / 100.0).round().max(6.0),
            "tile_url": self.tile_url,
            "tile_attribution": self.tile_attribution,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, MultiPolygon};

    fn square(name: &str, west: f64, south: f64, side: f64) -> cityfix_domain::Area {
        cityfix_domain::Area {
            name: name.into(),
            shape: MultiPolygon(vec![polygon![
                (x: west, y: south),
                (x: west + side, y: south),
                (x: west + side, y: south + side),
                (x: west, y: south + side),
                (x: west, y: south),
            ]]),
        }
    }

    fn town() -> CityMap {
        let layers = vec![
            MapLayer {
                id: "boundary".into(),
                areas: vec![square("Town", -72.70, 41.75, 0.04)],
            },
            MapLayer {
                id: "neighbourhoods".into(),
                areas: vec![
                    square("West", -72.70, 41.75, 0.02),
                    square("East", -72.68, 41.75, 0.02),
                ],
            },
            MapLayer {
                id: "police_districts".into(),
                areas: vec![square("One", -72.70, 41.75, 0.04)],
            },
        ];
        CityMap::new(
            &layers,
            Location::new(41.77, -72.68).unwrap(),
            Some("https://tiles.example/{z}/{x}/{y}.png".into()),
            None,
        )
    }

    #[test]
    fn the_drawing_frames_the_boundary_at_the_largest_zoom_that_fits() {
        let map = town();
        assert!(map.width.max(map.height) <= LONGEST_SIDE);
        let bigger = CityMap {
            zoom: map.zoom + 1,
            ..map.clone()
        };
        let (x0, y0) = world_pixel(41.79, -72.70, bigger.zoom);
        let (x1, y1) = world_pixel(41.75, -72.66, bigger.zoom);
        assert!(
            (x1 - x0).max(y1 - y0) + 2.0 * MARGIN > LONGEST_SIDE,
            "one zoom more would not fit"
        );
        let looks: Vec<(&str, &str)> = map
            .layers
            .iter()
            .map(|l| (l.name.as_str(), l.look))
            .collect();
        assert_eq!(
            looks,
            [
                ("Neighbourhoods", "shaded"),
                ("Police districts", "outlined"),
                ("City limits", "boundary")
            ]
        );
    }

    #[test]
    fn points_fall_where_the_tiles_put_them_and_nowhere_outside() {
        let map = town();
        let (x, y) = map.place(41.77, -72.68).expect("the middle of the town");
        let (wx, wy) = world_pixel(41.77, -72.68, map.zoom);
        assert!((x - (wx - map.origin.0)).abs() < 0.06 && (y - (wy - map.origin.1)).abs() < 0.06);
        // West is left of east, north above south.
        let west = map.place(41.77, -72.69).unwrap();
        let north = map.place(41.78, -72.68).unwrap();
        assert!(west.0 < x && north.1 < y);
        assert_eq!(map.place(42.5, -72.68), None, "far outside the drawing");
        // A tile's corner: tile (tx, ty) starts at tx*256 - origin on the drawing.
        let tx = ((map.origin.0 + x) / TILE).floor();
        assert!(tx * TILE - map.origin.0 <= x && x < (tx + 1.0) * TILE - map.origin.0);
    }

    #[test]
    fn a_shape_is_a_closed_path_of_numbers_only() {
        let map = town();
        let path = &map.layers[0].shapes[0].path;
        assert!(path.starts_with('M') && path.ends_with('Z'), "{path}");
        assert!(path
            .chars()
            .all(|c| c.is_ascii_digit() || " .-MLZ".contains(c)));
        assert_eq!(path.matches('L').count(), 4, "{path}");
    }

    #[test]
    fn without_shapes_the_drawing_frames_the_city_centre() {
        let map = CityMap::new(&[], Location::new(41.7637, -72.6851).unwrap(), None, None);
        assert!(map.place(41.7637, -72.6851).is_some());
        assert!(map.layers.is_empty());
    }
}
