//! Coordinate systems of layer files: the system a file names (a GeoJSON `crs` member, a Shapefile's `.prj`), and its positions reprojected to WGS 84 longitude / latitude with proj4rs.

use proj4rs::Proj;

/// The names the old GeoJSON `crs` member gives WGS 84 longitude / latitude (RFC 7946 dropped
/// the member; files exported before it still carry it).
const WGS84_NAMES: [&str; 6] = [
    "urn:ogc:def:crs:ogc:1.3:crs84",
    "urn:ogc:def:crs:epsg::4326",
    "urn:ogc:def:crs:epsg:4326",
    "epsg:4326",
    "ogc:crs84",
    "crs84",
];

/// How to get a layer cityfix can read whatever system it is in.
pub(crate) const EXPORT_AS_WGS84: &str =
    "export it as EPSG:4326 (in QGIS: Export > Save Features As, CRS EPSG:4326)";

/// The coordinate system a layer file is in, as the file names it.
pub(crate) enum System {
    /// WGS 84 longitude / latitude in degrees: positions are read as they are.
    Wgs84 { name: String },
    /// Any other system proj4rs knows: positions are reprojected.
    Other(Box<Reprojection>),
}

impl System {
    /// The system's name as the file gives it.
    pub(crate) fn name(&self) -> &str {
        match self {
            System::Wgs84 { name } => name,
            System::Other(reprojection) => &reprojection.name,
        }
    }
}

/// A projection from a file's system to WGS 84 longitude / latitude.
pub(crate) struct Reprojection {
    name: String,
    from: Proj,
    to: Proj,
}

impl Reprojection {
    fn new(name: &str, from: Proj) -> Result<Self, String> {
        let to = Proj::from_proj_string("+proj=longlat +datum=WGS84 +no_defs")
            .map_err(|e| format!("WGS 84 cannot be set up: {e}"))?;
        if !from.has_inverse() {
            return Err(format!(
                "`{name}` is a projection cityfix cannot invert; {EXPORT_AS_WGS84}"
            ));
        }
        Ok(Reprojection {
            name: name.to_string(),
            from,
            to,
        })
    }

    /// One position of the file (x, y in the file's units; degrees for a geographic system) as
    /// WGS 84 (longitude, latitude) in degrees.
    pub(crate) fn to_wgs84(&self, x: f64, y: f64) -> Result<(f64, f64), String> {
        let mut point = if self.from.is_latlong() {
            (x.to_radians(), y.to_radians(), 0.0)
        } else {
            (x, y, 0.0)
        };
        let failed = |detail: String| {
            format!(
                "position [{x}, {y}] does not reproject from `{}` ({detail}); is the layer really in that system?",
                self.name
            )
        };
        proj4rs::transform::transform(&self.from, &self.to, &mut point)
            .map_err(|e| failed(e.to_string()))?;
        let (long, lat) = (point.0.to_degrees(), point.1.to_degrees());
        if !long.is_finite()
            || !lat.is_finite()
            || !(-180.0..=180.0).contains(&long)
            || !(-90.0..=90.0).contains(&lat)
        {
            return Err(failed(format!("it lands at [{long}, {lat}]")));
        }
        Ok((long, lat))
    }
}

/// The EPSG code a name carries: `EPSG:2234`, `urn:ogc:def:crs:EPSG::2234`,
/// `urn:ogc:def:crs:EPSG:6.3:2234`, `http://www.opengis.net/def/crs/EPSG/0/2234`.
fn epsg_code(name: &str) -> Option<u16> {
    let lower = name.trim().to_lowercase();
    let after = &lower[lower.rfind("epsg")? + 4..];
    let code = after.rsplit([':', '/']).next()?;
    code.parse().ok()
}

/// The system a GeoJSON `crs` member's `properties.name` names: WGS 84 by any of its names, or
/// an EPSG code proj4rs knows (State Plane, UTM, Web Mercator); anything else is refused.
pub(crate) fn system_named(name: &str) -> Result<System, String> {
    if WGS84_NAMES.contains(&name.trim().to_lowercase().as_str()) {
        return Ok(System::Wgs84 {
            name: name.to_string(),
        });
    }
    let unknown = || {
        format!("the layer is in `{name}`, a coordinate system cityfix does not know (it reads EPSG codes, such as EPSG:2234 or urn:ogc:def:crs:EPSG::3857); {EXPORT_AS_WGS84}")
    };
    let code = epsg_code(name).ok_or_else(unknown)?;
    let proj = Proj::from_epsg_code(code).map_err(|_| unknown())?;
    Reprojection::new(name, proj).map(|r| System::Other(Box::new(r)))
}

/// The name a WKT definition gives its system: the first quoted string (`PROJCS["NAD83 / ..."`).
fn wkt_name(wkt: &str) -> String {
    wkt.split('"').nth(1).unwrap_or("unnamed").to_string()
}

/// Whether a WKT definition is WGS 84 longitude / latitude (a `GEOGCS` on the WGS 84 datum).
fn is_wgs84_wkt(wkt: &str) -> bool {
    let head = wkt.trim_start().to_uppercase();
    let geographic = head.starts_with("GEOGCS[") || head.starts_with("GEOGCRS[");
    let name = wkt_name(wkt).to_uppercase().replace(['_', ' '], "");
    geographic && ["WGS84", "GCSWGS1984"].contains(&name.as_str())
}

/// The system a Shapefile's `.prj` (ESRI WKT) or a GeoPackage's definition (OGC WKT) describes.
pub(crate) fn system_of_wkt(wkt: &str) -> Result<System, String> {
    let name = wkt_name(wkt);
    if is_wgs84_wkt(wkt) {
        return Ok(System::Wgs84 { name });
    }
    let proj = proj4wkt::wkt_to_projstring(wkt)
        .map_err(|e| e.to_string())
        .and_then(|projstring| Proj::from_proj_string(&projstring).map_err(|e| e.to_string()))
        .map_err(|e| {
            format!("the layer is in `{name}`, a coordinate system cityfix cannot read ({e}); {EXPORT_AS_WGS84}")
        })?;
    Reprojection::new(&name, proj).map(|r| System::Other(Box::new(r)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ESRI's WKT for EPSG:2234 as pyproj 3.7.2 (PROJ 9.5.1) writes it:
    /// `CRS(2234).to_wkt(WktVersion.WKT1_ESRI)`, as a Connecticut portal's `.prj` carries it.
    const CONNECTICUT_FEET_ESRI: &str = r#"PROJCS["NAD_1983_StatePlane_Connecticut_FIPS_0600_Feet",GEOGCS["GCS_North_American_1983",DATUM["D_North_American_1983",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",1000000.0],PARAMETER["False_Northing",500000.0],PARAMETER["Central_Meridian",-72.75],PARAMETER["Standard_Parallel_1",41.8666666666667],PARAMETER["Standard_Parallel_2",41.2],PARAMETER["Latitude_Of_Origin",40.8333333333333],UNIT["US survey foot",0.304800609601219]]"#;

    fn close(got: (f64, f64), want: (f64, f64)) -> bool {
        (got.0 - want.0).abs() < 1e-7 && (got.1 - want.1).abs() < 1e-7
    }

    fn reprojection(system: System) -> Reprojection {
        match system {
            System::Other(reprojection) => *reprojection,
            System::Wgs84 { name } => panic!("{name} read as WGS 84"),
        }
    }

    // Expected positions: pyproj 3.7.2 (PROJ 9.5.1),
    // `Transformer.from_crs(CODE, 4326, always_xy=True).transform(x, y)` on round numbers in
    // and near Hartford (scripts/make-layer-fixtures.py prints them again).
    #[test]
    fn connecticut_state_plane_feet_reprojects_as_pyproj_does_by_code_and_by_prj() {
        // Downtown Hartford, and the state's south-west corner.
        let cases = [
            (
                (1_015_260.0, 836_070.0),
                (-72.694_072_729_2, 41.755_654_051_9),
            ),
            (
                (760_000.0, 600_000.0),
                (-73.620_841_205_4, 41.104_468_671_4),
            ),
        ];
        for system in [
            system_named("urn:ogc:def:crs:EPSG::2234").unwrap(),
            system_of_wkt(CONNECTICUT_FEET_ESRI).unwrap(),
        ] {
            let name = system.name().to_string();
            let reprojection = reprojection(system);
            for ((x, y), want) in cases {
                let got = reprojection.to_wgs84(x, y).unwrap();
                assert!(close(got, want), "{name}: {got:?} != {want:?}");
            }
        }
    }

    #[test]
    fn web_mercator_and_utm_reproject_as_pyproj_does() {
        let cases = [
            (
                "EPSG:3857",
                (-8_092_339.0, 5_124_650.0),
                (-72.694_718_079_8, 41.757_010_459_6),
            ),
            (
                "EPSG:26918",
                (692_115.0, 4_625_488.0),
                (-72.689_071_864_9, 41.757_992_848_0),
            ),
        ];
        for (code, (x, y), want) in cases {
            let got = reprojection(system_named(code).unwrap())
                .to_wgs84(x, y)
                .unwrap();
            assert!(close(got, want), "{code}: {got:?} != {want:?}");
        }
    }

    #[test]
    fn wgs84_is_read_as_it_is_by_any_of_its_names() {
        for name in ["urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326"] {
            assert!(matches!(system_named(name).unwrap(), System::Wgs84 { .. }));
        }
        let wkt = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert!(matches!(system_of_wkt(wkt).unwrap(), System::Wgs84 { .. }));
    }

    #[test]
    fn an_unknown_system_is_refused_with_its_name_and_what_to_do() {
        for name in ["urn:ogc:def:crs:EPSG::999999", "EPSG:1", "my local grid"] {
            let Err(message) = system_named(name) else {
                panic!("{name} was read");
            };
            assert!(
                message.contains(name) && message.contains("EPSG:4326"),
                "{message}"
            );
        }
        let Err(message) = system_of_wkt(
            r#"PROJCS["Mystery Grid",GEOGCS["GCS_Unknown"],PROJECTION["Nowhere_Special"]]"#,
        ) else {
            panic!("read");
        };
        assert!(
            message.contains("Mystery Grid") && message.contains("EPSG:4326"),
            "{message}"
        );
    }

    #[test]
    fn a_position_that_does_not_come_out_as_a_longitude_and_latitude_is_refused() {
        let reprojection = reprojection(system_named("EPSG:3857").unwrap());
        let message = reprojection.to_wgs84(f64::NAN, 5_124_650.0).unwrap_err();
        assert!(message.contains("EPSG:3857"), "{message}");
    }
}
