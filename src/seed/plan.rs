//! Turning the data tables (or the synthetic generator) into rows: deterministic ids, theater placement, screens
//! and their layouts, the showtime programme. Pure: the only inputs from the database are the ids of cities that
//! already existed and the zone calendars.

use std::collections::HashMap;
use std::f64::consts::TAU;

use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};
use uuid::{Uuid, uuid};

use super::data::{CITIES, City, MOVIES, Prices, REGIONS, THEATERS, USD_BASE, ZIPS, slug};
use super::layout::{LayoutSpec, ScreenSize};
use super::schedule::{day_shows, mix, stable_hash};
use super::store::{CityRow, MovieRow, ScreenRow, ShowtimeRow, TheaterRow, ZipRow, ZoneCalendar};
use crate::catalog::model::search_key;

/// The namespace of every seeded id: `Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://boxoffice.dev/seed")` (a unit
/// test holds it to that). Ids are `new_v5(NAMESPACE, natural key)`, so every run on every machine gives a row the
/// same id, and a re-run's `ON CONFLICT DO NOTHING` recognises it.
pub(crate) const NAMESPACE: Uuid = uuid!("bb806869-d80f-5ac5-aabe-180c3195cd00");

/// The deterministic id of the row with natural key `key`.
pub(crate) fn seed_id(key: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, key.as_bytes())
}

/// How many local days of showtimes a seed run plans, from today.
pub(crate) const DAYS: i32 = 14;

/// A theater about to be written, with what is needed to generate its screens and showtimes.
#[derive(Debug, Clone)]
pub(crate) struct TheaterPlan {
    /// Natural key, e.g. `theater/us-east/new-york-ny/3`: the source of its id, screen layouts and programme.
    pub key: String,
    /// The `theaters` row.
    pub row: TheaterRow,
    /// Its city's IANA time zone.
    pub time_zone: &'static str,
    /// What its showtimes cost.
    pub prices: Prices,
    /// Its screens, numbered from 1.
    pub screens: Vec<ScreenPlan>,
}

/// A screen about to be written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScreenPlan {
    /// From 1.
    pub number: i32,
    /// Stable hash of theater key + number: chooses its movies and first show time.
    pub seed: u64,
    /// Its seating.
    pub layout: LayoutSpec,
}

impl TheaterPlan {
    /// The `screens` rows.
    pub(crate) fn screen_rows(&self) -> Vec<ScreenRow> {
        self.screens
            .iter()
            .map(|s| ScreenRow {
                region: self.row.region,
                theater_id: self.row.id,
                screen_number: s.number,
                name: format!("Screen {}", s.number),
            })
            .collect()
    }

    /// The showtimes of every screen over the zone calendar's days, starting after `now`. `shows_per_day` picks the
    /// number of shows of a screen on a day from (screen seed, Julian day).
    pub(crate) fn showtimes(
        &self,
        calendar: &ZoneCalendar,
        now: OffsetDateTime,
        movies: &[MovieRow],
        shows_per_day: impl Fn(u64, i32) -> u8,
    ) -> Vec<ShowtimeRow> {
        let durations: Vec<u16> = movies.iter().map(|m| u16::try_from(m.duration_min).unwrap_or(u16::MAX)).collect();
        let mut rows = Vec::new();
        for screen in &self.screens {
            for &(date, offset) in &calendar.days {
                let day = date.to_julian_day();
                // Local midnight at the day's (noon) offset: adding a show's minutes gives its wall-clock start.
                let midnight = PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_offset(offset);
                for show in day_shows(screen.seed, day, shows_per_day(screen.seed, day), &durations) {
                    let start = midnight + Duration::minutes(i64::from(show.start_min));
                    if start <= now {
                        continue;
                    }
                    rows.push(ShowtimeRow {
                        region: self.row.region,
                        id: showtime_id(&self.key, screen.number, date, show.slot),
                        theater_id: self.row.id,
                        screen_number: screen.number,
                        movie_id: movies[show.movie].id,
                        start_time: start.to_offset(time::UtcOffset::UTC),
                        end_time: (start + Duration::minutes(i64::from(show.end_min - show.start_min)))
                            .to_offset(time::UtcOffset::UTC),
                        prices: self.prices,
                    });
                }
            }
        }
        rows
    }
}

/// The id of the show in `slot` of a screen's local `date`.
pub(crate) fn showtime_id(theater_key: &str, screen: i32, date: Date, slot: u8) -> Uuid {
    seed_id(&format!("showtime/{theater_key}/{screen}/{date}/{slot}"))
}

/// The demo's shows per screen per day: 3 to 5.
pub(crate) fn demo_shows_per_day(screen_seed: u64, day: i32) -> u8 {
    3 + u8::try_from(mix(screen_seed ^ u64::from(day.unsigned_abs()).rotate_left(32)) % 3).unwrap_or(0)
}

/// The natural key of a city: `city/US/new-york-ny`.
fn city_key(country: &str, slug: &str) -> String {
    format!("city/{country}/{slug}")
}

/// The movies rows (same for the demo and the scale seed).
pub(crate) fn movie_rows() -> Vec<MovieRow> {
    MOVIES
        .iter()
        .map(|m| {
            let search_title = search_key(m.title);
            MovieRow {
                id: seed_id(&format!("movie/{search_title}/{}", m.release_date.year())),
                title: m.title,
                search_title,
                duration_min: i32::from(m.duration_min),
                genre: m.genre,
                rating: m.rating,
                description: m.description,
                release_date: m.release_date,
            }
        })
        .collect()
}

fn city_row(c: &City) -> CityRow {
    CityRow {
        id: seed_id(&city_key(c.country, &c.slug())),
        region: c.region,
        name: c.name.to_owned(),
        search_name: search_key(c.name),
        state: c.state,
        country: c.country,
        lat: c.lat,
        lon: c.lon,
        time_zone: c.time_zone,
    }
}

/// The demo cities' rows.
pub(crate) fn demo_city_rows() -> Vec<CityRow> {
    CITIES.iter().map(city_row).collect()
}

/// Maps each city row to the id it is stored under: `existing` (from the database, keyed by search name, state,
/// country) wins over the row's own deterministic id, so a city created before the seed is reused, not duplicated.
pub(crate) fn resolve_city_ids(
    rows: &[CityRow],
    existing: &HashMap<(String, String, String), Uuid>,
) -> HashMap<Uuid, Uuid> {
    rows.iter()
        .map(|r| {
            let key = (r.search_name.clone(), r.state.to_owned(), r.country.to_owned());
            (r.id, existing.get(&key).copied().unwrap_or(r.id))
        })
        .collect()
}

/// The demo ZIP codes and theaters, attached to the stored city ids (`city_ids`: seed id -> stored id).
pub(crate) fn demo_zips_and_theaters(city_ids: &HashMap<Uuid, Uuid>) -> (Vec<ZipRow>, Vec<TheaterPlan>) {
    let cities: HashMap<String, (&City, Uuid)> = CITIES
        .iter()
        .map(|c| {
            let seed = seed_id(&city_key(c.country, &c.slug()));
            (c.slug(), (c, city_ids.get(&seed).copied().unwrap_or(seed)))
        })
        .collect();
    let zips: Vec<ZipRow> = ZIPS
        .iter()
        .filter_map(|z| {
            let (city, id) = cities.get(z.city)?;
            Some(ZipRow { country: city.country, zip: z.zip.to_owned(), city_id: *id, lat: z.lat, lon: z.lon })
        })
        .collect();
    let mut numbers: HashMap<&str, u32> = HashMap::new();
    let mut theaters = Vec::with_capacity(THEATERS.len());
    for t in THEATERS {
        let (Some((city, city_id)), Some(zip)) = (cities.get(t.city), ZIPS.iter().find(|z| z.zip == t.zip)) else {
            // The data tables' unit tests guarantee both exist.
            continue;
        };
        let n = numbers.entry(t.city).or_default();
        *n += 1;
        let key = format!("theater/{}/{}/{n}", city.region, t.city);
        let h = stable_hash(&key);
        let screen_count = 3 + (h % 6) as i32;
        let screens = (1..=screen_count)
            .map(|number| {
                let seed = stable_hash(&format!("{key}/screen/{number}"));
                // The first screen of a multiplex is its flagship; the others are mid-sized or small rooms.
                let size = match (number, screen_count) {
                    (1, 4..) => ScreenSize::Large,
                    (1, _) => ScreenSize::Medium,
                    _ if seed.is_multiple_of(3) => ScreenSize::Small,
                    _ => ScreenSize::Medium,
                };
                ScreenPlan { number, seed, layout: LayoutSpec::for_size(size, mix(seed)) }
            })
            .collect();
        let (lat, lon) = near(zip.lat, zip.lon, h);
        theaters.push(TheaterPlan {
            row: TheaterRow {
                region: city.region,
                id: seed_id(&key),
                city_id: *city_id,
                name: t.name.to_owned(),
                address: t.address.to_owned(),
                zip: t.zip.to_owned(),
                lat,
                lon,
                number_of_screens: screen_count,
            },
            key,
            time_zone: city.time_zone,
            prices: city.prices,
            screens,
        });
    }
    (zips, theaters)
}

/// A point 0.2–2 km from (`lat`, `lon`), in a direction and at a distance chosen by `hash`: theaters near their ZIP
/// centroid, distinct from one another.
fn near(lat: f64, lon: f64, hash: u64) -> (f64, f64) {
    let angle = (hash & 0xFFFF) as f64 / 65_536.0 * TAU;
    let km = 0.2 + ((hash >> 16) & 0xFFFF) as f64 / 65_536.0 * 1.8;
    let dlat = km * angle.cos() / 111.32;
    let dlon = km * angle.sin() / (111.32 * lat.to_radians().cos());
    (lat + dlat, lon + dlon)
}

// Scale (load-test) data ----------------------------------------------------------------------------------------

/// Theaters per synthetic city.
pub(crate) const SCALE_THEATERS_PER_CITY: u32 = 5;
/// Synthetic cities get the ZIP codes `00001`..`00500`, which the USPS never assigned (the lowest real ZIP is
/// `00501`), so they cannot collide with a real one; hence at most 500 cities.
pub(crate) const SCALE_MAX_CITIES: u32 = 500;
/// The largest `scale` argument: 2,500 theaters, 20,000 screens, 4 million seats.
pub(crate) const SCALE_MAX_THEATERS: u32 = SCALE_MAX_CITIES * SCALE_THEATERS_PER_CITY;
/// Screens per synthetic theater.
pub(crate) const SCALE_SCREENS: i32 = 8;
/// Shows per screen per day in the scale data.
pub(crate) const SCALE_SHOWS_PER_DAY: u8 = 4;

/// The four layouts of the scale data's screens, in rotation: 200, 200, 204 and 196 seats, so 625 theaters of 8
/// screens have exactly 1,000,000 seats.
pub(crate) const SCALE_LAYOUTS: [LayoutSpec; 4] = [
    LayoutSpec { rows: 10, seats_per_row: 20, aisles: 2, premium_rows: 2, accessible_row: 1 },
    LayoutSpec { rows: 10, seats_per_row: 20, aisles: 1, premium_rows: 3, accessible_row: 2 },
    LayoutSpec { rows: 12, seats_per_row: 17, aisles: 1, premium_rows: 3, accessible_row: 1 },
    LayoutSpec { rows: 14, seats_per_row: 14, aisles: 2, premium_rows: 3, accessible_row: 0 },
];

/// Where each region's synthetic cities lie: a state whose whole box is in one time zone, and that box
/// (lat min, lat max, lon min, lon max).
const SCALE_AREAS: [(&str, &str, &str, [f64; 4]); 3] = [
    ("us-east", "PA", "America/New_York", [40.0, 41.8, -80.3, -75.5]),
    ("us-central", "KS", "America/Chicago", [37.1, 39.9, -99.5, -94.7]),
    ("us-west", "NV", "America/Los_Angeles", [36.2, 41.8, -119.8, -114.8]),
];

/// A synthetic city of the scale data, with its one ZIP code (at the city centre).
#[derive(Debug, Clone)]
pub(crate) struct ScaleCity {
    /// The `cities` row.
    pub row: CityRow,
    /// Its slug, e.g. `loadtown-007-ks`.
    pub slug: String,
    /// Its ZIP code, `00001`..`00500`.
    pub zip: String,
}

/// Synthetic city `index` (0-based): `Loadtown 001` .. `Loadtown 500`, dealt over the regions in turn and spread
/// over their areas by a low-discrepancy sequence so that they do not pile up.
pub(crate) fn scale_city(index: u32) -> ScaleCity {
    let (region, state, time_zone, [lat0, lat1, lon0, lon1]) = SCALE_AREAS[(index % 3) as usize];
    debug_assert_eq!(region, REGIONS[(index % 3) as usize]);
    // The R2 sequence (Roberts 2018): the best-spread 2-D points for any prefix length.
    let k = f64::from(index / 3);
    let u = (0.5 + k * 0.754_877_666_246_692_7).fract();
    let v = (0.5 + k * 0.569_840_290_998_053_2).fract();
    let name = format!("Loadtown {:03}", index + 1);
    let slug = slug(&name, state);
    ScaleCity {
        row: CityRow {
            id: seed_id(&city_key("US", &slug)),
            region,
            search_name: search_key(&name),
            name,
            state,
            country: "US",
            lat: lat0 + u * (lat1 - lat0),
            lon: lon0 + v * (lon1 - lon0),
            time_zone,
        },
        slug,
        zip: format!("{:05}", index + 1),
    }
}

/// Synthetic theater `index` (0-based) of `city` (which must be `scale_city(index / 5)`), attached to the stored
/// city id `city_id`.
pub(crate) fn scale_theater(index: u32, city: &ScaleCity, city_id: Uuid) -> TheaterPlan {
    let n = index % SCALE_THEATERS_PER_CITY + 1;
    let key = format!("theater/{}/{}/{n}", city.row.region, city.slug);
    let h = stable_hash(&key);
    let (lat, lon) = near(city.row.lat, city.row.lon, h);
    let screens = (1..=SCALE_SCREENS)
        .map(|number| ScreenPlan {
            number,
            seed: stable_hash(&format!("{key}/screen/{number}")),
            layout: SCALE_LAYOUTS[(number - 1) as usize % SCALE_LAYOUTS.len()],
        })
        .collect();
    TheaterPlan {
        row: TheaterRow {
            region: city.row.region,
            id: seed_id(&key),
            city_id,
            name: format!("{} Cinema {n}", city.row.name),
            address: format!("{} Main St", 100 * n),
            zip: city.zip.clone(),
            lat,
            lon,
            number_of_screens: SCALE_SCREENS,
        },
        key,
        time_zone: city.row.time_zone,
        prices: USD_BASE,
        screens,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use time::UtcOffset;
    use time::macros::{date, datetime, offset};

    use super::*;
    use crate::seed::data::ZIPS;
    use crate::seed::layout::generate;

    fn demo() -> Vec<TheaterPlan> {
        let cities = demo_city_rows();
        demo_zips_and_theaters(&resolve_city_ids(&cities, &HashMap::new())).1
    }

    #[test]
    fn the_namespace_is_what_its_doc_says() {
        assert_eq!(NAMESPACE, Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://boxoffice.dev/seed"));
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        assert_eq!(seed_id("theater/us-east/new-york-ny/3"), seed_id("theater/us-east/new-york-ny/3"));
        assert_eq!(seed_id("x").get_version_num(), 5);
        let theaters = demo();
        let ids: HashSet<Uuid> = theaters.iter().map(|t| t.row.id).collect();
        assert_eq!(ids.len(), theaters.len());
        assert_eq!(theaters[0].key, "theater/us-east/new-york-ny/1");
        let movies: HashSet<Uuid> = movie_rows().iter().map(|m| m.id).collect();
        assert_eq!(movies.len(), MOVIES.len());
    }

    #[test]
    fn demo_theaters_have_three_to_eight_screens_and_sit_near_their_zip() {
        let theaters = demo();
        assert_eq!(theaters.len(), THEATERS.len());
        let mut seats = 0;
        for t in &theaters {
            assert!((3..=8).contains(&t.screens.len()), "{}", t.key);
            assert_eq!(t.row.number_of_screens as usize, t.screens.len());
            assert_eq!(t.screen_rows().len(), t.screens.len());
            let zip = ZIPS.iter().find(|z| z.zip == t.row.zip).expect("the data tests check ZIPs");
            let d_km =
                ((t.row.lat - zip.lat) * 111.32).hypot((t.row.lon - zip.lon) * 111.32 * zip.lat.to_radians().cos());
            assert!((0.15..2.1).contains(&d_km), "{} is {d_km:.2} km from its ZIP", t.key);
            seats += t.screens.iter().map(|s| s.layout.seat_count()).sum::<usize>();
        }
        // Big screens of ~300 seats and small ones of ~80 both occur.
        let sizes: Vec<usize> = theaters.iter().flat_map(|t| t.screens.iter().map(|s| s.layout.seat_count())).collect();
        assert!(sizes.iter().any(|&n| n >= 280) && sizes.iter().any(|&n| n <= 100));
        assert!((30_000..90_000).contains(&seats), "{seats} demo seats");
    }

    #[test]
    fn existing_cities_keep_their_ids() {
        let cities = demo_city_rows();
        let other = Uuid::from_u128(7);
        let existing = HashMap::from([(("new york".to_owned(), "NY".to_owned(), "US".to_owned()), other)]);
        let ids = resolve_city_ids(&cities, &existing);
        let (zips, theaters) = demo_zips_and_theaters(&ids);
        assert!(theaters.iter().filter(|t| t.key.contains("/new-york-ny/")).all(|t| t.row.city_id == other));
        assert!(zips.iter().filter(|z| z.zip.starts_with("100")).all(|z| z.city_id == other));
        assert!(theaters.iter().filter(|t| !t.key.contains("/new-york-ny/")).all(|t| t.row.city_id != other));
    }

    #[test]
    fn showtimes_are_future_local_daytime_and_keyed_by_local_date() {
        let theater = &demo()[0];
        let movies = movie_rows();
        // New York in winter: UTC-5. "now" is 14:00 local on the first day.
        let calendar =
            ZoneCalendar { days: (0..14).map(|d| (date!(2026 - 01 - 10) + Duration::days(d), offset!(-5))).collect() };
        let now = datetime!(2026-01-10 14:00 -5);
        let rows = theater.showtimes(&calendar, now, &movies, demo_shows_per_day);
        assert!(!rows.is_empty());
        let ids: HashSet<Uuid> = rows.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), rows.len());
        for r in &rows {
            assert!(r.start_time > now);
            let local = r.start_time.to_offset(offset!(-5));
            assert!((11..=23).contains(&local.hour()), "{local}");
            assert_eq!(r.start_time.offset(), UtcOffset::UTC);
            assert!(r.end_time > r.start_time);
            assert_eq!(r.prices.currency, "USD");
            assert_eq!(r.region, "us-east");
        }
        // The same run later in the day plans a subset with the same ids: nothing new, nothing moved.
        let later = theater.showtimes(&calendar, now + Duration::hours(3), &movies, demo_shows_per_day);
        let later_ids: HashSet<Uuid> = later.iter().map(|r| r.id).collect();
        assert!(later_ids.is_subset(&ids) && later_ids.len() < ids.len());
        // Per screen, shows never overlap.
        for s in &theater.screens {
            let mut on_screen: Vec<_> = rows.iter().filter(|r| r.screen_number == s.number).collect();
            on_screen.sort_by_key(|r| r.start_time);
            assert!(on_screen.windows(2).all(|w| w[0].end_time <= w[1].start_time));
        }
    }

    #[test]
    fn showtimes_follow_daylight_saving_time() {
        let theater = &demo()[0];
        let movies = movie_rows();
        // 2026-03-08: New York moves from UTC-5 to UTC-4 at 02:00.
        let calendar =
            ZoneCalendar { days: vec![(date!(2026 - 03 - 07), offset!(-5)), (date!(2026 - 03 - 08), offset!(-4))] };
        let rows = theater.showtimes(&calendar, datetime!(2026-01-01 0:00 UTC), &movies, demo_shows_per_day);
        for r in rows {
            let o = if r.start_time < datetime!(2026-03-08 7:00 UTC) { offset!(-5) } else { offset!(-4) };
            let local = r.start_time.to_offset(o);
            assert!((11..=23).contains(&local.hour()), "{local}");
        }
    }

    #[test]
    fn demo_prices_are_higher_in_new_york_and_canadian_in_montreal() {
        let theaters = demo();
        let ny = theaters.iter().find(|t| t.key.contains("new-york")).expect("NY");
        let chi = theaters.iter().find(|t| t.key.contains("chicago")).expect("Chicago");
        let mtl = theaters.iter().find(|t| t.key.contains("montreal")).expect("Montréal");
        assert!(ny.prices.standard > chi.prices.standard);
        assert_eq!(mtl.prices.currency, "CAD");
        assert_eq!(mtl.time_zone, "America/Toronto");
    }

    #[test]
    fn demo_shows_per_day_is_three_to_five_and_varies() {
        let counts: HashSet<u8> = (0..200).map(|d| demo_shows_per_day(stable_hash("s"), 2_460_000 + d)).collect();
        assert_eq!(counts, HashSet::from([3, 4, 5]));
    }

    #[test]
    fn scale_cities_are_valid_unique_and_spread_over_the_regions() {
        let cities: Vec<ScaleCity> = (0..SCALE_MAX_CITIES).map(scale_city).collect();
        let names: HashSet<&str> = cities.iter().map(|c| c.row.search_name.as_str()).collect();
        let zips: HashSet<&str> = cities.iter().map(|c| c.zip.as_str()).collect();
        assert_eq!(names.len(), cities.len());
        assert_eq!(zips.len(), cities.len());
        let demo_zips: HashSet<&str> = ZIPS.iter().map(|z| z.zip).collect();
        for c in &cities {
            assert!(c.zip.len() == 5 && c.zip.as_str() <= "00500" && !demo_zips.contains(c.zip.as_str()));
            assert!((-90.0..=90.0).contains(&c.row.lat) && (-180.0..=180.0).contains(&c.row.lon));
            assert!(!CITIES.iter().any(|d| search_key(d.name) == c.row.search_name));
        }
        for region in REGIONS {
            let n = cities.iter().filter(|c| c.row.region == region).count();
            assert!(n >= 166, "{region}: {n}");
        }
        assert_eq!(scale_city(6).row.name, "Loadtown 007");
        assert_eq!(scale_city(6).slug, "loadtown-007-pa");
    }

    #[test]
    fn scale_theaters_have_eight_screens_of_about_two_hundred_seats() {
        let city = scale_city(0);
        let theaters: Vec<TheaterPlan> = (0..5).map(|i| scale_theater(i, &city, city.row.id)).collect();
        let ids: HashSet<Uuid> = theaters.iter().map(|t| t.row.id).collect();
        assert_eq!(ids.len(), 5);
        for t in &theaters {
            assert_eq!(t.screens.len(), 8);
            let seats: usize = t.screens.iter().map(|s| generate(s.layout).len()).sum();
            assert_eq!(seats, 1600, "625 theaters must give 1,000,000 seats");
        }
    }
}
