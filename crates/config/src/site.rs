//! What the resident site shows of the city, read from the city folder: `site.toml` (languages, map tiles, emergency banner), the page's messages in `messages/<lang>.json`, and the boundary and neighbourhood shapes for a map that has no tiles.

use std::collections::BTreeMap;
use std::path::Path;

use geo::MultiPolygon;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::files::{read_text, read_toml, RoutingFile};
use crate::{read_area_layer, ConfigError, Properties};

/// The languages the resident page carries its own messages for; any other needs a messages file.
pub const BUILT_IN_LANGUAGES: &[&str] = &["en", "es"];

/// Decimal places kept in the shapes sent to the page: about a metre, and a third of the bytes.
const COORDINATE_DECIMALS: i32 = 5;

/// The resident site's settings and shapes, everything public.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    /// Language codes offered, the city's own first (the page falls back to it).
    pub languages: Vec<String>,
    /// A slippy-map tile template (`{z}/{x}/{y}`), or none: the page then draws the shapes alone.
    pub tile_url: Option<String>,
    pub tile_attribution: Option<String>,
    /// What to do in an emergency, by language, shown on every page.
    pub emergency: BTreeMap<String, String>,
    /// The city's own messages by language (additions and replacements of the page's).
    pub messages: BTreeMap<String, BTreeMap<String, String>>,
    /// The city limits as a GeoJSON FeatureCollection.
    pub boundary: Value,
    /// The first area layer (the neighbourhoods) as a GeoJSON FeatureCollection, each feature named.
    pub neighbourhoods: Value,
    /// Decimals of a degree the open-data exports keep of each point (`[open_data]
    /// location_decimals`, 1 to 6); `None` exports points as reported.
    pub open_data_location_decimals: Option<u32>,
}

/// site.toml; every part may be left out.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    #[serde(default = "english")]
    languages: Vec<String>,
    #[serde(default)]
    map: MapFile,
    #[serde(default)]
    emergency: BTreeMap<String, String>,
    #[serde(default)]
    open_data: OpenDataFile,
}

/// site.toml `[open_data]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OpenDataFile {
    location_decimals: Option<u32>,
}

/// site.toml `[map]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MapFile {
    tile_url: Option<String>,
    tile_attribution: Option<String>,
}

fn english() -> Vec<String> {
    vec!["en".into()]
}

/// Reads what the resident site needs from the city folder; `site.toml` and `messages/` are optional.
pub fn read_site(dir: &Path) -> Result<Site, ConfigError> {
    let site_path = dir.join("site.toml");
    let file: SiteFile = if site_path.exists() {
        read_toml(&site_path)?
    } else {
        SiteFile {
            languages: english(),
            ..SiteFile::default()
        }
    };
    let fault = |field: &str, message: String| ConfigError {
        file: site_path.clone(),
        entry: None,
        field: Some(field.into()),
        message,
    };
    if file.languages.is_empty() {
        return Err(fault("languages", "must name at least one language".into()));
    }
    let messages = read_messages(&dir.join("messages"))?;
    for language in &file.languages {
        if !is_language_code(language) {
            return Err(fault(
                "languages",
                format!("`{language}` is not a language code such as `en` or `pt-BR`"),
            ));
        }
        if !BUILT_IN_LANGUAGES.contains(&language.as_str()) && !messages.contains_key(language) {
            return Err(fault(
                "languages",
                format!("`{language}` has no messages: add messages/{language}.json (the page carries only {})", BUILT_IN_LANGUAGES.join(" and ")),
            ));
        }
    }
    if let Some(language) = file.emergency.keys().find(|l| !file.languages.contains(l)) {
        return Err(fault(
            "emergency",
            format!("`{language}` is not one of the site's languages"),
        ));
    }
    if let Some(url) = &file.map.tile_url {
        let templated = ["{z}", "{x}", "{y}"].iter().all(|part| url.contains(part));
        if !url.starts_with("https://") || !templated {
            return Err(fault(
                "map.tile_url",
                "must be an https:// address with {z}, {x} and {y} in it".into(),
            ));
        }
    }

    if let Some(decimals) = file.open_data.location_decimals {
        if !(1..=6).contains(&decimals) {
            return Err(fault(
                "open_data.location_decimals",
                format!("must be from 1 (about 11 km) to 6 (about 10 cm), not {decimals}"),
            ));
        }
    }

    let routing_path = dir.join("routing.toml");
    let routing: RoutingFile = read_toml(&routing_path)?;
    // The shapes as routing uses them: repaired where a feature needed it.
    let boundary = feature_collection(read_area_layer(&dir.join(&routing.boundary), "name")?.areas);
    let neighbourhoods = match routing.area_layers.first() {
        Some(layer) => {
            feature_collection(read_area_layer(&dir.join(&layer.file), &layer.name_property)?.areas)
        }
        None => feature_collection(Vec::new()),
    };
    Ok(Site {
        languages: file.languages,
        tile_url: file.map.tile_url,
        tile_attribution: file.map.tile_attribution,
        emergency: file.emergency,
        messages,
        boundary,
        neighbourhoods,
        open_data_location_decimals: file.open_data.location_decimals,
    })
}

/// One layer of the city's areas as routing reads them (repaired where a feature needed it), to
/// draw on a map: the boundary (`boundary`) or an `[[area_layer]]` of routing.toml, by its id.
#[derive(Debug, Clone, PartialEq)]
pub struct MapLayer {
    pub id: String,
    pub areas: Vec<cityfix_domain::Area>,
}

/// The city's area layers to draw: the boundary first, then routing.toml's area layers in order.
pub fn read_map_layers(dir: &Path) -> Result<Vec<MapLayer>, ConfigError> {
    let routing: RoutingFile = read_toml(&dir.join("routing.toml"))?;
    let areas = |path: &Path, name: &str| -> Result<Vec<cityfix_domain::Area>, ConfigError> {
        Ok(read_area_layer(path, name)?
            .areas
            .into_iter()
            .map(|(area, _)| area)
            .collect())
    };
    let mut layers = vec![MapLayer {
        id: "boundary".into(),
        areas: areas(&dir.join(&routing.boundary), "name")?,
    }];
    for layer in &routing.area_layers {
        layers.push(MapLayer {
            id: layer.id.clone(),
            areas: areas(&dir.join(&layer.file), &layer.name_property)?,
        });
    }
    Ok(layers)
}

/// `en`, `es`, `pt-BR`, `zh-Hant`: a BCP 47 language with an optional region or script.
fn is_language_code(code: &str) -> bool {
    let mut parts = code.split('-');
    let language = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    (2..=3).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_lowercase())
        && rest.len() <= 1
        && rest.iter().all(|part| {
            (2..=4).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// Every `messages/<lang>.json` (an object of message id → text); no folder is no messages.
fn read_messages(folder: &Path) -> Result<BTreeMap<String, BTreeMap<String, String>>, ConfigError> {
    let mut all = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Ok(all);
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Some(language) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let fault = |message: String| ConfigError {
            file: path.clone(),
            entry: None,
            field: None,
            message,
        };
        if !is_language_code(language) {
            return Err(fault(format!(
                "`{language}` is not a language code such as `en` or `pt-BR`"
            )));
        }
        let messages: BTreeMap<String, String> = serde_json::from_str(&read_text(&path)?)
            .map_err(|e| fault(format!("must be a JSON object of message id to text: {e}")))?;
        all.insert(language.to_string(), messages);
    }
    Ok(all)
}

fn feature_collection(areas: Vec<(cityfix_domain::Area, Properties)>) -> Value {
    let features: Vec<Value> = areas
        .into_iter()
        .map(|(area, _)| {
            json!({
                "type": "Feature",
                "properties": { "name": area.name },
                "geometry": { "type": "MultiPolygon", "coordinates": coordinates(&area.shape) },
            })
        })
        .collect();
    json!({ "type": "FeatureCollection", "features": features })
}

fn coordinates(shape: &MultiPolygon<f64>) -> Value {
    let scale = 10f64.powi(COORDINATE_DECIMALS);
    let round = |v: f64| (v * scale).round() / scale;
    let ring = |line: &geo::LineString<f64>| -> Value {
        line.coords()
            .map(|c| json!([round(c.x), round(c.y)]))
            .collect()
    };
    shape
        .iter()
        .map(|polygon| {
            std::iter::once(polygon.exterior())
                .chain(polygon.interiors())
                .map(ring)
                .collect::<Value>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn demo_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../config/hartford")
    }

    fn copy_of_demo() -> tempfile::TempDir {
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(
            demo_dir().join("routing.toml"),
            copy.path().join("routing.toml"),
        )
        .unwrap();
        std::fs::create_dir(copy.path().join("areas")).unwrap();
        for layer in ["boundary", "neighborhoods", "districts"] {
            let name = format!("areas/{layer}.geojson");
            std::fs::copy(demo_dir().join(&name), copy.path().join(&name)).unwrap();
        }
        copy
    }

    #[test]
    fn the_map_layers_are_the_boundary_then_the_routing_layers_in_order() {
        let layers = read_map_layers(&demo_dir()).unwrap();
        let ids: Vec<&str> = layers.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["boundary", "neighbourhoods", "districts"]);
        assert!(layers.iter().all(|l| !l.areas.is_empty()));
        assert!(layers[1].areas.iter().any(|a| a.name == "Downtown"));
    }

    #[test]
    fn the_demo_site_offers_english_and_spanish_with_the_neighbourhoods_named() {
        let site = read_site(&demo_dir()).unwrap();
        assert_eq!(site.languages, ["en", "es"]);
        let names: Vec<&str> = site.neighbourhoods["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"Downtown") && names.contains(&"Asylum Hill"));
        assert_eq!(site.boundary["features"].as_array().unwrap().len(), 1);
        assert!(site.emergency.contains_key("es"));
    }

    #[test]
    fn a_folder_without_site_toml_is_english_only_with_no_tiles() {
        let dir = copy_of_demo();
        let site = read_site(dir.path()).unwrap();
        assert_eq!(site.languages, ["en"]);
        assert_eq!(site.tile_url, None);
        assert!(site.messages.is_empty());
    }

    #[test]
    fn a_language_the_page_does_not_carry_needs_its_messages_file() {
        let dir = copy_of_demo();
        std::fs::write(
            dir.path().join("site.toml"),
            "languages = [\"en\", \"fr\"]\n",
        )
        .unwrap();
        let fault = read_site(dir.path()).unwrap_err();
        assert_eq!(fault.field.as_deref(), Some("languages"));
        assert!(fault.message.contains("messages/fr.json"), "{fault}");

        std::fs::create_dir(dir.path().join("messages")).unwrap();
        std::fs::write(
            dir.path().join("messages/fr.json"),
            r#"{"report.heading": "Signaler un problème"}"#,
        )
        .unwrap();
        let site = read_site(dir.path()).unwrap();
        assert_eq!(
            site.messages["fr"]["report.heading"],
            "Signaler un problème"
        );
    }

    #[test]
    fn a_tile_url_must_be_an_https_template() {
        let dir = copy_of_demo();
        std::fs::write(
            dir.path().join("site.toml"),
            "[map]\ntile_url = \"http://tiles.example/{z}/{x}/{y}.png\"\n",
        )
        .unwrap();
        let fault = read_site(dir.path()).unwrap_err();
        assert_eq!(fault.field.as_deref(), Some("map.tile_url"));
    }

    #[test]
    fn shapes_are_rounded_to_five_decimals() {
        let shape = MultiPolygon(vec![geo::Polygon::new(
            geo::LineString::from(vec![
                (1.234_567_8, 2.0),
                (1.0, 2.000_004),
                (1.0, 1.0),
                (1.234_567_8, 2.0),
            ]),
            vec![],
        )]);
        assert_eq!(coordinates(&shape)[0][0][0], json!([1.23457, 2.0]));
        assert_eq!(coordinates(&shape)[0][0][1], json!([1.0, 2.0]));
    }
}
