//! Positions, search radii, the bounding box that lets an index prefilter a proximity search, and the haversine
//! distance (the same formula the SQL of `sql/queries/catalog/theaters_near.sql` evaluates).

use std::str::FromStr;

use serde::Serialize;

/// Mean Earth radius in kilometres (IUGG), used by the Rust and the SQL haversine alike.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Kilometres per degree of latitude (and of longitude at the equator) on that sphere.
pub const KM_PER_DEGREE: f64 = EARTH_RADIUS_KM * std::f64::consts::PI / 180.0;

/// The search radius when none is given.
pub const DEFAULT_RADIUS_KM: f64 = 25.0;

/// The largest search radius accepted.
pub const MAX_RADIUS_KM: f64 = 500.0;

/// A WGS 84 position in degrees, within range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Position {
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lon: f64,
}

impl Position {
    /// A position from degrees.
    ///
    /// # Errors
    /// A coordinate that is not finite or out of range, with the reason.
    pub fn new(lat: f64, lon: f64) -> Result<Self, String> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(format!("latitude must be between -90 and 90, got {lat}"));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(format!("longitude must be between -180 and 180, got {lon}"));
        }
        Ok(Self { lat, lon })
    }
}

impl FromStr for Position {
    type Err = String;

    /// Parses `"lat,lon"` in decimal degrees, e.g. `"40.7128,-74.0060"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (lat, lon) = s.split_once(',').ok_or_else(|| "expected lat,lon in decimal degrees".to_owned())?;
        let number =
            |v: &str, what: &str| v.trim().parse::<f64>().map_err(|_| format!("{what} {:?} is not a number", v.trim()));
        Self::new(number(lat, "latitude")?, number(lon, "longitude")?)
    }
}

/// Great-circle distance between two positions in kilometres (haversine, spherical Earth of [`EARTH_RADIUS_KM`]).
pub fn haversine_km(a: Position, b: Position) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = (b.lat - a.lat).to_radians();
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// A search radius in kilometres: positive, at most [`MAX_RADIUS_KM`].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct RadiusKm(f64);

impl RadiusKm {
    /// The radius in kilometres.
    pub fn km(self) -> f64 {
        self.0
    }
}

impl Default for RadiusKm {
    fn default() -> Self {
        Self(DEFAULT_RADIUS_KM)
    }
}

impl FromStr for RadiusKm {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let km: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of kilometres"))?;
        if !km.is_finite() || km <= 0.0 {
            return Err(format!("must be greater than 0, got {s}"));
        }
        if km > MAX_RADIUS_KM {
            return Err(format!("must be at most {MAX_RADIUS_KM}, got {s}"));
        }
        Ok(Self(km))
    }
}

/// A latitude band and one or two longitude ranges that contain every point within a radius of a centre: the part
/// of a proximity search an index range scan can do (`theaters_lat_lon_idx`); the exact distance filters the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Southern bound.
    pub lat_min: f64,
    /// Northern bound.
    pub lat_max: f64,
    /// First longitude range `(min, max)`.
    pub lon_a: (f64, f64),
    /// Second longitude range, used when the box crosses the antimeridian; otherwise equal to the first.
    pub lon_b: (f64, f64),
}

impl BoundingBox {
    /// The smallest such box around `centre` (Matuschek's bounding coordinates), widened by a hair so that
    /// rounding never excludes a point the SQL distance would keep. A pole within the radius makes the box span
    /// every longitude.
    pub fn around(centre: Position, radius: RadiusKm) -> Self {
        // About 1 cm: absorbs the difference between this arithmetic and the database's.
        const MARGIN_DEG: f64 = 1e-7;
        let angular = radius.km() / EARTH_RADIUS_KM;
        let dlat = angular.to_degrees() + MARGIN_DEG;
        let lat_min = centre.lat - dlat;
        let lat_max = centre.lat + dlat;
        if lat_min <= -90.0 || lat_max >= 90.0 {
            let all = (-180.0, 180.0);
            return Self { lat_min: lat_min.max(-90.0), lat_max: lat_max.min(90.0), lon_a: all, lon_b: all };
        }
        let ratio = angular.sin() / centre.lat.to_radians().cos();
        let dlon = if ratio >= 1.0 { 180.0 } else { ratio.asin().to_degrees() + MARGIN_DEG };
        let (lo, hi) = (centre.lon - dlon, centre.lon + dlon);
        let (lon_a, lon_b) = if dlon >= 180.0 {
            ((-180.0, 180.0), (-180.0, 180.0))
        } else if lo < -180.0 {
            ((lo + 360.0, 180.0), (-180.0, hi))
        } else if hi > 180.0 {
            ((lo, 180.0), (-180.0, hi - 360.0))
        } else {
            ((lo, hi), (lo, hi))
        };
        Self { lat_min, lat_max, lon_a, lon_b }
    }

    /// Whether the box contains `p`.
    pub fn contains(&self, p: Position) -> bool {
        let within = |(a, b): (f64, f64)| p.lon >= a && p.lon <= b;
        p.lat >= self.lat_min && p.lat <= self.lat_max && (within(self.lon_a) || within(self.lon_b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(lat: f64, lon: f64) -> Position {
        Position::new(lat, lon).expect("valid")
    }

    #[test]
    fn positions_parse_with_bounds() {
        assert_eq!("40.7128,-74.0060".parse::<Position>(), Ok(pos(40.7128, -74.006)));
        assert_eq!(" 45.5 , -73.56 ".parse::<Position>(), Ok(pos(45.5, -73.56)));
        for bad in ["", "40.7", "91,0", "-90.5,0", "0,180.1", "0,-181", "a,b", "NaN,0", "inf,0", "1,2,3"] {
            assert!(bad.parse::<Position>().is_err(), "{bad:?} accepted");
        }
        assert!("90,180".parse::<Position>().is_ok());
    }

    #[test]
    fn radius_is_positive_and_bounded() {
        assert_eq!("25".parse::<RadiusKm>().map(RadiusKm::km), Ok(25.0));
        assert_eq!("0.5".parse::<RadiusKm>().map(RadiusKm::km), Ok(0.5));
        assert_eq!("500".parse::<RadiusKm>().map(RadiusKm::km), Ok(500.0));
        for bad in ["0", "-1", "500.01", "1e9", "ten", "", "NaN", "inf"] {
            assert!(bad.parse::<RadiusKm>().is_err(), "{bad:?} accepted");
        }
        assert_eq!(RadiusKm::default().km(), DEFAULT_RADIUS_KM);
    }

    #[test]
    fn haversine_matches_known_distances() {
        // New York City Hall to Philadelphia City Hall: about 129.6 km.
        let d = haversine_km(pos(40.7127, -74.0059), pos(39.9526, -75.1652));
        assert!((d - 129.6).abs() < 1.0, "{d}");
        // A quarter of a meridian.
        let d = haversine_km(pos(0.0, 0.0), pos(90.0, 0.0));
        assert!((d - EARTH_RADIUS_KM * std::f64::consts::FRAC_PI_2).abs() < 1e-6, "{d}");
        assert_eq!(haversine_km(pos(10.0, 10.0), pos(10.0, 10.0)), 0.0);
        // Across the antimeridian is short, not half the planet.
        assert!(haversine_km(pos(0.0, 179.9), pos(0.0, -179.9)) < 23.0);
    }

    #[test]
    fn the_box_contains_every_point_of_the_circle() {
        let radius: RadiusKm = "100".parse().expect("valid");
        for centre in [pos(40.7, -74.0), pos(0.0, 0.0), pos(64.1, -21.9), pos(-33.9, 151.2), pos(10.0, 179.5)] {
            let b = BoundingBox::around(centre, radius);
            // Points on the circle, every 5 degrees of bearing, slightly inside the radius.
            for step in 0..72 {
                let bearing = f64::from(step * 5).to_radians();
                let angular = 99.999 / EARTH_RADIUS_KM;
                let (lat1, lon1) = (centre.lat.to_radians(), centre.lon.to_radians());
                let lat2 = (lat1.sin() * angular.cos() + lat1.cos() * angular.sin() * bearing.cos()).asin();
                let lon2 =
                    lon1 + (bearing.sin() * angular.sin() * lat1.cos()).atan2(angular.cos() - lat1.sin() * lat2.sin());
                let mut lon = lon2.to_degrees();
                if lon > 180.0 {
                    lon -= 360.0;
                } else if lon < -180.0 {
                    lon += 360.0;
                }
                let p = pos(lat2.to_degrees(), lon);
                assert!(haversine_km(centre, p) <= 100.0);
                assert!(b.contains(p), "{p:?} on the circle around {centre:?} is outside {b:?}");
            }
            // And it is a real prefilter: a point 2 radii north is outside.
            assert!(!b.contains(pos(centre.lat + 1.8, centre.lon)), "{b:?}");
        }
    }

    #[test]
    fn the_box_splits_at_the_antimeridian_and_opens_at_the_poles() {
        let radius: RadiusKm = "100".parse().expect("valid");
        let b = BoundingBox::around(pos(0.0, 179.5), radius);
        assert!(b.lon_a.1 == 180.0 && b.lon_b.0 == -180.0, "{b:?}");
        assert!(b.contains(pos(0.0, -179.8)));
        let b = BoundingBox::around(pos(89.5, 10.0), radius);
        assert_eq!((b.lon_a, b.lat_max), ((-180.0, 180.0), 90.0));
    }
}
