//! Demo and load-test data (`boxoffice seed --demo | --scale N`).
//!
//! * [`demo`] writes a small, realistic data set: 22 real cities over the three regions (with their real ZIP codes
//!   and time zones, Montréal's accent and Portland's ambiguity included), 66 theaters of 3–8 screens with seat
//!   layouts, 40 well-known movies, and two weeks of showtimes in each theater's local time.
//! * [`scale`] adds N synthetic theaters (8 screens of ~200 seats, 4 shows a screen a day) in synthetic cities,
//!   loaded with binary COPY: 625 theaters are 1,000,000 seats.
//!
//! Both are idempotent. Every row has a deterministic identity: ids are UUID v5 of a natural key such as
//! `theater/us-east/new-york-ny/3` in the namespace `Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://boxoffice.dev/seed")`
//! (`plan::NAMESPACE`); seats and screens have natural primary keys; showtime ids derive from (theater, screen,
//! local date, slot). Running a seed again therefore writes nothing, except the showtimes of the local days that
//! entered the two-week window since the last run.
//!
//! Local times: a screen's programme is planned on local days (11:00 to 23:00 starts) and turned into instants
//! with the zone's UTC offset on that date, which PostgreSQL computes from its time-zone database
//! (`(date + time) AT TIME ZONE zone`), the same rules the catalog uses to filter by local date.
//!
//! Layout: `data` (the tables), `layout` and `schedule` (pure generators), `plan` (rows from tables), `store`
//! (SQL, in `sql/`).

mod data;
mod layout;
mod plan;
mod schedule;
mod store;

use std::collections::{HashMap, HashSet};
use std::fmt;

use anyhow::Context as _;
use tokio_postgres::Client;
use uuid::Uuid;

use self::plan::{DAYS, SCALE_MAX_THEATERS, SCALE_SHOWS_PER_DAY, SCALE_THEATERS_PER_CITY, TheaterPlan};
use self::store::{SeatRow, ShowtimeRow, ZoneCalendar};

/// Counts of rows written by a seed run (rows that already existed are not counted).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedSummary {
    /// New `cities` rows.
    pub cities: u64,
    /// New `zip_codes` rows.
    pub zip_codes: u64,
    /// New `theaters` rows.
    pub theaters: u64,
    /// New `screens` rows.
    pub screens: u64,
    /// New `seats` rows.
    pub seats: u64,
    /// New `movies` rows.
    pub movies: u64,
    /// New `showtimes` rows.
    pub showtimes: u64,
}

impl fmt::Display for SeedSummary {
    /// One line for a log: `cities=22 zip_codes=86 theaters=66 screens=347 seats=61668 movies=40 showtimes=18356`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cities={} zip_codes={} theaters={} screens={} seats={} movies={} showtimes={}",
            self.cities, self.zip_codes, self.theaters, self.screens, self.seats, self.movies, self.showtimes
        )
    }
}

/// Writes the demo data set in one transaction (see the module documentation) and returns what was new.
///
/// Idempotent: a second run writes nothing but the showtimes of local days that entered the 14-day window since.
/// Cities that already exist under the same name, state and country (created by something else than this seed) are
/// reused, not duplicated. Expects the regions `us-east`, `us-central` and `us-west`, which the first migration
/// inserts.
///
/// # Errors
/// Any database error (connection lost, a missing region, a schema that is not migrated); the transaction is then
/// rolled back and nothing is written.
pub async fn demo(client: &mut Client) -> anyhow::Result<SeedSummary> {
    let mut summary = SeedSummary::default();
    let tx = client.transaction().await.context("starting the demo seed transaction")?;

    let cities = plan::demo_city_rows();
    summary.cities = store::insert_cities(&tx, &cities).await?;
    let city_ids = plan::resolve_city_ids(&cities, &store::city_ids(&tx, &cities).await?);
    let (zips, theaters) = plan::demo_zips_and_theaters(&city_ids);
    summary.zip_codes = store::insert_zip_codes(&tx, &zips).await?;
    let movies = plan::movie_rows();
    summary.movies = store::insert_movies(&tx, &movies).await?;

    let rows: Vec<_> = theaters.iter().map(|t| t.row.clone()).collect();
    summary.theaters = store::insert_theaters(&tx, &rows).await?;
    let screens: Vec<_> = theaters.iter().flat_map(TheaterPlan::screen_rows).collect();
    summary.screens = store::insert_screens(&tx, &screens).await?;
    // A layout is generated once per screen and borrowed by its seat rows.
    let layouts: Vec<(&TheaterPlan, i32, Vec<layout::Seat>)> = theaters
        .iter()
        .flat_map(|t| t.screens.iter().map(move |s| (t, s.number, layout::generate(s.layout))))
        .collect();
    let seats: Vec<SeatRow<'_>> = layouts
        .iter()
        .flat_map(|(t, number, seats)| {
            seats.iter().map(|seat| SeatRow {
                region: t.row.region,
                theater_id: t.row.id,
                screen_number: *number,
                seat,
            })
        })
        .collect();
    summary.seats = store::insert_seats(&tx, &seats).await?;

    let zones: Vec<&str> = distinct(theaters.iter().map(|t| t.time_zone));
    let (now, calendars) = store::zone_calendars(&tx, &zones, DAYS).await?;
    let showtimes: Vec<ShowtimeRow> = theaters
        .iter()
        .flat_map(|t| t.showtimes(calendar(&calendars, t.time_zone), now, &movies, plan::demo_shows_per_day))
        .collect();
    summary.showtimes = store::insert_showtimes(&tx, &showtimes).await?;

    tx.commit().await.context("committing the demo seed")?;
    Ok(summary)
}

/// Theaters written per transaction by [`scale`]: a failure loses at most this many, and a re-run completes them.
const SCALE_BATCH: usize = 100;

/// Adds `theaters` synthetic theaters for load tests (see the module documentation) and returns what was new.
///
/// Theaters are numbered 0..`theaters` with deterministic ids, so `scale(n)` after `scale(m)` adds only the theaters
/// `m..n` (and a re-run adds none); the showtimes of theaters that existed are topped up to the current two-week
/// window. New theaters, their screens, seats and showtimes are loaded with binary COPY, 100 theaters per
/// transaction. The 40 demo movies are inserted if missing. Synthetic cities are `Loadtown 001` ... in
/// Pennsylvania, Kansas and Nevada (one region each), 5 theaters each, with unassigned ZIP codes `00001`...
///
/// # Errors
/// `theaters` above 2,500 (500 synthetic cities, the number of unassigned ZIP codes used); any database error, in
/// which case the batches committed before it stay (they are complete) and a re-run finishes the job.
pub async fn scale(client: &mut Client, theaters: u32) -> anyhow::Result<SeedSummary> {
    anyhow::ensure!(
        theaters <= SCALE_MAX_THEATERS,
        "scale supports at most {SCALE_MAX_THEATERS} theaters ({} requested)",
        theaters
    );
    let mut summary = SeedSummary::default();
    let movies = plan::movie_rows();
    let cities: Vec<plan::ScaleCity> = (0..theaters.div_ceil(SCALE_THEATERS_PER_CITY)).map(plan::scale_city).collect();
    let city_rows: Vec<_> = cities.iter().map(|c| c.row.clone()).collect();

    let tx = client.transaction().await.context("starting the scale seed transaction")?;
    summary.movies = store::insert_movies(&tx, &movies).await?;
    summary.cities = store::insert_cities(&tx, &city_rows).await?;
    let city_ids = plan::resolve_city_ids(&city_rows, &store::city_ids(&tx, &city_rows).await?);
    let stored_city_id = |c: &plan::ScaleCity| city_ids.get(&c.row.id).copied().unwrap_or(c.row.id);
    let zips: Vec<_> = cities
        .iter()
        .map(|c| store::ZipRow {
            country: c.row.country,
            zip: c.zip.clone(),
            city_id: stored_city_id(c),
            lat: c.row.lat,
            lon: c.row.lon,
        })
        .collect();
    summary.zip_codes = store::insert_zip_codes(&tx, &zips).await?;
    let zones: Vec<&str> = distinct(cities.iter().map(|c| c.row.time_zone));
    // One clock for the whole run, so that every batch plans the same window.
    let (now, calendars) = store::zone_calendars(&tx, &zones, DAYS).await?;
    tx.commit().await.context("committing the scale seed's cities")?;

    let plans: Vec<TheaterPlan> = (0..theaters)
        .map(|i| {
            let city = &cities[(i / SCALE_THEATERS_PER_CITY) as usize];
            plan::scale_theater(i, city, stored_city_id(city))
        })
        .collect();
    // The four layouts, generated once and borrowed by every screen's seat rows.
    let layouts: HashMap<layout::LayoutSpec, Vec<layout::Seat>> =
        plan::SCALE_LAYOUTS.iter().map(|&spec| (spec, layout::generate(spec))).collect();
    let shows_per_day = |_: u64, _: i32| SCALE_SHOWS_PER_DAY;

    for (done, batch) in plans.chunks(SCALE_BATCH).enumerate() {
        let tx = client.transaction().await.context("starting a scale seed batch")?;
        let ids: Vec<Uuid> = batch.iter().map(|t| t.row.id).collect();
        let existing = store::existing_theaters(&tx, &ids).await?;
        let (old, new): (Vec<&TheaterPlan>, Vec<&TheaterPlan>) =
            batch.iter().partition(|t| existing.contains(&t.row.id));

        let rows: Vec<_> = new.iter().map(|t| &t.row).collect();
        summary.theaters += store::copy_theaters(&tx, &rows).await?;
        let screens: Vec<_> = new.iter().flat_map(|t| t.screen_rows()).collect();
        summary.screens += store::copy_screens(&tx, &screens).await?;
        let seats = new.iter().flat_map(|t| {
            t.screens.iter().flat_map(|s| {
                layouts.get(&s.layout).into_iter().flatten().map(|seat| SeatRow {
                    region: t.row.region,
                    theater_id: t.row.id,
                    screen_number: s.number,
                    seat,
                })
            })
        });
        summary.seats += store::copy_seats(&tx, seats).await?;

        let calendar_of = |t: &TheaterPlan| calendar(&calendars, t.time_zone);
        let fresh: Vec<ShowtimeRow> =
            new.iter().flat_map(|t| t.showtimes(calendar_of(t), now, &movies, shows_per_day)).collect();
        summary.showtimes += store::copy_showtimes(&tx, &fresh).await?;
        // Theaters of an earlier run: only the days that entered the window are new; the rest conflict and are
        // skipped.
        let top_up: Vec<ShowtimeRow> =
            old.iter().flat_map(|t| t.showtimes(calendar_of(t), now, &movies, shows_per_day)).collect();
        summary.showtimes += store::insert_showtimes(&tx, &top_up).await?;

        tx.commit().await.context("committing a scale seed batch")?;
        tracing::info!(
            theaters = (done * SCALE_BATCH + batch.len()),
            of = plans.len(),
            seats = summary.seats,
            "scale seed progress"
        );
    }
    Ok(summary)
}

/// The calendar of `zone`; empty (no showtimes) for a zone the database did not know, which cannot happen with the
/// seed's zones (the query returns every zone it is given).
fn calendar<'a>(calendars: &'a HashMap<String, ZoneCalendar>, zone: &str) -> &'a ZoneCalendar {
    static EMPTY: ZoneCalendar = ZoneCalendar { days: Vec::new() };
    calendars.get(zone).unwrap_or(&EMPTY)
}

/// The distinct values of `items`, in first-seen order.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    items.filter(|z| seen.insert(*z)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_displays_on_one_line() {
        let s = SeedSummary { cities: 1, zip_codes: 2, theaters: 3, screens: 4, seats: 5, movies: 6, showtimes: 7 };
        assert_eq!(s.to_string(), "cities=1 zip_codes=2 theaters=3 screens=4 seats=5 movies=6 showtimes=7");
        assert_eq!(SeedSummary::default().to_string().matches("=0").count(), 7);
    }
}
