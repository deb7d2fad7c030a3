//! The seed's SQL calls: idempotent multi-row inserts (`unnest` of parallel arrays + `ON CONFLICT DO NOTHING`) for
//! the demo and for top-ups, binary COPY for the bulk of the scale seed.
//!
//! Statements live in `src/seed/sql/`, one per file with a header comment, and are pulled in here only. Every value
//! is a bound parameter; an `unnest` insert takes one array per column, so a statement's text never depends on the
//! number of rows.

use std::collections::{HashMap, HashSet};
use std::pin::pin;

use anyhow::Context as _;
use time::{Date, OffsetDateTime, UtcOffset};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::data::Prices;
use super::layout::Seat;
use crate::db::queries;

const INSERT_CITIES: &str = queries::seed::INSERT_CITIES;
const CITY_IDS: &str = queries::seed::CITY_IDS;
const INSERT_ZIP_CODES: &str = queries::seed::INSERT_ZIP_CODES;
const INSERT_MOVIES: &str = queries::seed::INSERT_MOVIES;
const INSERT_THEATERS: &str = queries::seed::INSERT_THEATERS;
const INSERT_SCREENS: &str = queries::seed::INSERT_SCREENS;
const INSERT_SEATS: &str = queries::seed::INSERT_SEATS;
const INSERT_SHOWTIMES: &str = queries::seed::INSERT_SHOWTIMES;
const ZONE_CALENDAR: &str = queries::seed::ZONE_CALENDAR;
const NOW: &str = queries::seed::NOW;
const EXISTING_THEATERS: &str = queries::seed::EXISTING_THEATERS;
const COPY_THEATERS: &str = queries::seed::COPY_THEATERS;
const COPY_SCREENS: &str = queries::seed::COPY_SCREENS;
const COPY_SEATS: &str = queries::seed::COPY_SEATS;
const COPY_SHOWTIMES: &str = queries::seed::COPY_SHOWTIMES;

/// Rows per `unnest` insert: large enough to amortise the round trip, small enough to keep each statement's
/// parameters (one array per column) a few megabytes at most.
const CHUNK: usize = 10_000;

/// A `cities` row; the fields are its columns (see the migration for their meaning).
#[derive(Debug, Clone)]
pub(crate) struct CityRow {
    pub id: Uuid,
    pub region: &'static str,
    pub name: String,
    pub search_name: String,
    pub state: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub time_zone: &'static str,
}

/// A `zip_codes` row; the fields are its columns (see the migration for their meaning).
#[derive(Debug, Clone)]
pub(crate) struct ZipRow {
    pub country: &'static str,
    pub zip: String,
    pub city_id: Uuid,
    pub lat: f64,
    pub lon: f64,
}

/// A `movies` row; the fields are its columns (see the migration for their meaning).
#[derive(Debug, Clone)]
pub(crate) struct MovieRow {
    pub id: Uuid,
    pub title: &'static str,
    pub search_title: String,
    pub duration_min: i32,
    pub genre: &'static str,
    pub rating: &'static str,
    pub description: &'static str,
    pub release_date: Date,
}

/// A `theaters` row; the fields are its columns (see the migration for their meaning).
#[derive(Debug, Clone)]
pub(crate) struct TheaterRow {
    pub region: &'static str,
    pub id: Uuid,
    pub city_id: Uuid,
    pub name: String,
    pub address: String,
    pub zip: String,
    pub lat: f64,
    pub lon: f64,
    pub number_of_screens: i32,
}

/// A `screens` row; the fields are its columns (see the migration for their meaning).
#[derive(Debug, Clone)]
pub(crate) struct ScreenRow {
    pub region: &'static str,
    pub theater_id: Uuid,
    pub screen_number: i32,
    pub name: String,
}

/// A `seats` row: a seat of a generated layout, placed on a screen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeatRow<'a> {
    pub region: &'static str,
    pub theater_id: Uuid,
    pub screen_number: i32,
    pub seat: &'a Seat,
}

/// A `showtimes` row; the fields are its columns (see the migration for their meaning).
#[derive(Debug, Clone)]
pub(crate) struct ShowtimeRow {
    pub region: &'static str,
    pub id: Uuid,
    pub theater_id: Uuid,
    pub screen_number: i32,
    pub movie_id: Uuid,
    pub start_time: OffsetDateTime,
    pub end_time: OffsetDateTime,
    pub prices: Prices,
}

/// The local days of a time zone over which showtimes are planned, each with the zone's UTC offset that day.
#[derive(Debug, Clone, Default)]
pub(crate) struct ZoneCalendar {
    /// From the zone's today, in order.
    pub days: Vec<(Date, UtcOffset)>,
}

/// Inserts cities; returns how many were new.
pub(crate) async fn insert_cities(tx: &Transaction<'_>, rows: &[CityRow]) -> anyhow::Result<u64> {
    let mut n = 0;
    for rows in rows.chunks(CHUNK) {
        let id: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let region: Vec<&str> = rows.iter().map(|r| r.region).collect();
        let name: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        let search_name: Vec<&str> = rows.iter().map(|r| r.search_name.as_str()).collect();
        let state: Vec<&str> = rows.iter().map(|r| r.state).collect();
        let country: Vec<&str> = rows.iter().map(|r| r.country).collect();
        let lat: Vec<f64> = rows.iter().map(|r| r.lat).collect();
        let lon: Vec<f64> = rows.iter().map(|r| r.lon).collect();
        let time_zone: Vec<&str> = rows.iter().map(|r| r.time_zone).collect();
        n += tx
            .execute(INSERT_CITIES, &[&id, &region, &name, &search_name, &state, &country, &lat, &lon, &time_zone])
            .await
            .context("inserting cities")?;
    }
    Ok(n)
}

/// The id under which each of `rows` is stored, keyed by the city's unique key (search name, state, country):
/// the row's own id if the seed inserted it, the existing row's otherwise.
pub(crate) async fn city_ids(
    tx: &Transaction<'_>,
    rows: &[CityRow],
) -> anyhow::Result<HashMap<(String, String, String), Uuid>> {
    let names: Vec<&str> = rows.iter().map(|r| r.search_name.as_str()).collect();
    let found = tx.query(CITY_IDS, &[&names]).await.context("reading city ids")?;
    let mut ids = HashMap::with_capacity(found.len());
    for row in found {
        ids.insert((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?), row.try_get(3)?);
    }
    Ok(ids)
}

/// Inserts ZIP codes; returns how many were new.
pub(crate) async fn insert_zip_codes(tx: &Transaction<'_>, rows: &[ZipRow]) -> anyhow::Result<u64> {
    let mut n = 0;
    for rows in rows.chunks(CHUNK) {
        let country: Vec<&str> = rows.iter().map(|r| r.country).collect();
        let zip: Vec<&str> = rows.iter().map(|r| r.zip.as_str()).collect();
        let city_id: Vec<Uuid> = rows.iter().map(|r| r.city_id).collect();
        let lat: Vec<f64> = rows.iter().map(|r| r.lat).collect();
        let lon: Vec<f64> = rows.iter().map(|r| r.lon).collect();
        n += tx
            .execute(INSERT_ZIP_CODES, &[&country, &zip, &city_id, &lat, &lon])
            .await
            .context("inserting ZIP codes")?;
    }
    Ok(n)
}

/// Inserts movies; returns how many were new.
pub(crate) async fn insert_movies(tx: &Transaction<'_>, rows: &[MovieRow]) -> anyhow::Result<u64> {
    let id: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let title: Vec<&str> = rows.iter().map(|r| r.title).collect();
    let search_title: Vec<&str> = rows.iter().map(|r| r.search_title.as_str()).collect();
    let duration_min: Vec<i32> = rows.iter().map(|r| r.duration_min).collect();
    let genre: Vec<&str> = rows.iter().map(|r| r.genre).collect();
    let rating: Vec<&str> = rows.iter().map(|r| r.rating).collect();
    let description: Vec<&str> = rows.iter().map(|r| r.description).collect();
    let release_date: Vec<Date> = rows.iter().map(|r| r.release_date).collect();
    tx.execute(
        INSERT_MOVIES,
        &[&id, &title, &search_title, &duration_min, &genre, &rating, &description, &release_date],
    )
    .await
    .context("inserting movies")
}

/// Inserts theaters; returns how many were new.
pub(crate) async fn insert_theaters(tx: &Transaction<'_>, rows: &[TheaterRow]) -> anyhow::Result<u64> {
    let mut n = 0;
    for rows in rows.chunks(CHUNK) {
        let region: Vec<&str> = rows.iter().map(|r| r.region).collect();
        let id: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let city_id: Vec<Uuid> = rows.iter().map(|r| r.city_id).collect();
        let name: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        let address: Vec<&str> = rows.iter().map(|r| r.address.as_str()).collect();
        let zip: Vec<&str> = rows.iter().map(|r| r.zip.as_str()).collect();
        let lat: Vec<f64> = rows.iter().map(|r| r.lat).collect();
        let lon: Vec<f64> = rows.iter().map(|r| r.lon).collect();
        let screens: Vec<i32> = rows.iter().map(|r| r.number_of_screens).collect();
        n += tx
            .execute(INSERT_THEATERS, &[&region, &id, &city_id, &name, &address, &zip, &lat, &lon, &screens])
            .await
            .context("inserting theaters")?;
    }
    Ok(n)
}

/// Inserts screens; returns how many were new.
pub(crate) async fn insert_screens(tx: &Transaction<'_>, rows: &[ScreenRow]) -> anyhow::Result<u64> {
    let mut n = 0;
    for rows in rows.chunks(CHUNK) {
        let region: Vec<&str> = rows.iter().map(|r| r.region).collect();
        let theater_id: Vec<Uuid> = rows.iter().map(|r| r.theater_id).collect();
        let number: Vec<i32> = rows.iter().map(|r| r.screen_number).collect();
        let name: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        n += tx.execute(INSERT_SCREENS, &[&region, &theater_id, &number, &name]).await.context("inserting screens")?;
    }
    Ok(n)
}

/// Inserts seats; returns how many were new.
pub(crate) async fn insert_seats(tx: &Transaction<'_>, rows: &[SeatRow<'_>]) -> anyhow::Result<u64> {
    let mut n = 0;
    for rows in rows.chunks(CHUNK) {
        let region: Vec<&str> = rows.iter().map(|r| r.region).collect();
        let theater_id: Vec<Uuid> = rows.iter().map(|r| r.theater_id).collect();
        let screen: Vec<i32> = rows.iter().map(|r| r.screen_number).collect();
        let label: Vec<&str> = rows.iter().map(|r| r.seat.label.as_str()).collect();
        let row_label: Vec<&str> = rows.iter().map(|r| r.seat.row_label.as_str()).collect();
        let number: Vec<i32> = rows.iter().map(|r| r.seat.number).collect();
        let kind: Vec<&str> = rows.iter().map(|r| r.seat.kind.as_str()).collect();
        let grid_x: Vec<i32> = rows.iter().map(|r| r.seat.grid_x).collect();
        let grid_y: Vec<i32> = rows.iter().map(|r| r.seat.grid_y).collect();
        n += tx
            .execute(
                INSERT_SEATS,
                &[&region, &theater_id, &screen, &label, &row_label, &number, &kind, &grid_x, &grid_y],
            )
            .await
            .context("inserting seats")?;
    }
    Ok(n)
}

/// Inserts showtimes; returns how many were new.
pub(crate) async fn insert_showtimes(tx: &Transaction<'_>, rows: &[ShowtimeRow]) -> anyhow::Result<u64> {
    let mut n = 0;
    for rows in rows.chunks(CHUNK) {
        let region: Vec<&str> = rows.iter().map(|r| r.region).collect();
        let id: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let theater_id: Vec<Uuid> = rows.iter().map(|r| r.theater_id).collect();
        let screen: Vec<i32> = rows.iter().map(|r| r.screen_number).collect();
        let movie_id: Vec<Uuid> = rows.iter().map(|r| r.movie_id).collect();
        let start: Vec<OffsetDateTime> = rows.iter().map(|r| r.start_time).collect();
        let end: Vec<OffsetDateTime> = rows.iter().map(|r| r.end_time).collect();
        let standard: Vec<i64> = rows.iter().map(|r| r.prices.standard).collect();
        let premium: Vec<i64> = rows.iter().map(|r| r.prices.premium).collect();
        // Accessible and companion seats cost the same as standard ones (see `Prices`).
        let currency: Vec<&str> = rows.iter().map(|r| r.prices.currency).collect();
        n += tx
            .execute(
                INSERT_SHOWTIMES,
                &[
                    &region,
                    &id,
                    &theater_id,
                    &screen,
                    &movie_id,
                    &start,
                    &end,
                    &standard,
                    &premium,
                    &standard,
                    &standard,
                    &currency,
                ],
            )
            .await
            .context("inserting showtimes")?;
    }
    Ok(n)
}

/// The database's clock and, for each of `zones`, its next `days` local days (today first) with their UTC offsets.
pub(crate) async fn zone_calendars(
    tx: &Transaction<'_>,
    zones: &[&str],
    days: i32,
) -> anyhow::Result<(OffsetDateTime, HashMap<String, ZoneCalendar>)> {
    let now: OffsetDateTime = tx.query_one(NOW, &[]).await.context("reading the clock")?.try_get(0)?;
    let rows = tx.query(ZONE_CALENDAR, &[&zones, &days]).await.context("reading time zones")?;
    let mut calendars: HashMap<String, ZoneCalendar> = HashMap::new();
    for row in rows {
        let zone: String = row.try_get(0)?;
        let day: Date = row.try_get(1)?;
        let offset =
            UtcOffset::from_whole_seconds(row.try_get(2)?).with_context(|| format!("UTC offset of {zone} on {day}"))?;
        calendars.entry(zone).or_default().days.push((day, offset));
    }
    Ok((now, calendars))
}

/// Which of `ids` are theaters already.
pub(crate) async fn existing_theaters(tx: &Transaction<'_>, ids: &[Uuid]) -> anyhow::Result<HashSet<Uuid>> {
    let rows = tx.query(EXISTING_THEATERS, &[&ids]).await.context("reading existing theaters")?;
    rows.iter().map(|r| r.try_get(0).map_err(anyhow::Error::from)).collect()
}

/// Bulk-loads theaters with binary COPY; returns the row count. The theaters must not exist.
pub(crate) async fn copy_theaters(tx: &Transaction<'_>, rows: &[&TheaterRow]) -> anyhow::Result<u64> {
    let types = [
        Type::TEXT,
        Type::UUID,
        Type::UUID,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::FLOAT8,
        Type::FLOAT8,
        Type::INT4,
    ];
    let sink = tx.copy_in(COPY_THEATERS).await.context("starting the theaters COPY")?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    for r in rows {
        let values: [&(dyn ToSql + Sync); 9] =
            [&r.region, &r.id, &r.city_id, &r.name, &r.address, &r.zip, &r.lat, &r.lon, &r.number_of_screens];
        writer.as_mut().write(&values).await.context("copying theaters")?;
    }
    writer.as_mut().finish().await.context("finishing the theaters COPY")
}

/// Bulk-loads screens with binary COPY; returns the row count. The screens must not exist.
pub(crate) async fn copy_screens(tx: &Transaction<'_>, rows: &[ScreenRow]) -> anyhow::Result<u64> {
    let types = [Type::TEXT, Type::UUID, Type::INT4, Type::TEXT];
    let sink = tx.copy_in(COPY_SCREENS).await.context("starting the screens COPY")?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    for r in rows {
        let values: [&(dyn ToSql + Sync); 4] = [&r.region, &r.theater_id, &r.screen_number, &r.name];
        writer.as_mut().write(&values).await.context("copying screens")?;
    }
    writer.as_mut().finish().await.context("finishing the screens COPY")
}

/// Bulk-loads seats with binary COPY; returns the row count. The seats must not exist. Takes an iterator so that
/// the million rows of a large scale seed are never all in memory at once.
pub(crate) async fn copy_seats<'a>(
    tx: &Transaction<'_>,
    rows: impl IntoIterator<Item = SeatRow<'a>>,
) -> anyhow::Result<u64> {
    let types =
        [Type::TEXT, Type::UUID, Type::INT4, Type::TEXT, Type::TEXT, Type::INT4, Type::TEXT, Type::INT4, Type::INT4];
    let sink = tx.copy_in(COPY_SEATS).await.context("starting the seats COPY")?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    for r in rows {
        let kind = r.seat.kind.as_str();
        let values: [&(dyn ToSql + Sync); 9] = [
            &r.region,
            &r.theater_id,
            &r.screen_number,
            &r.seat.label,
            &r.seat.row_label,
            &r.seat.number,
            &kind,
            &r.seat.grid_x,
            &r.seat.grid_y,
        ];
        writer.as_mut().write(&values).await.context("copying seats")?;
    }
    writer.as_mut().finish().await.context("finishing the seats COPY")
}

/// Bulk-loads showtimes with binary COPY; returns the row count. The showtimes must not exist.
pub(crate) async fn copy_showtimes(tx: &Transaction<'_>, rows: &[ShowtimeRow]) -> anyhow::Result<u64> {
    let types = [
        Type::TEXT,
        Type::UUID,
        Type::UUID,
        Type::INT4,
        Type::UUID,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMPTZ,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
    ];
    let sink = tx.copy_in(COPY_SHOWTIMES).await.context("starting the showtimes COPY")?;
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    for r in rows {
        // Accessible and companion seats cost the same as standard ones (see `Prices`).
        let values: [&(dyn ToSql + Sync); 12] = [
            &r.region,
            &r.id,
            &r.theater_id,
            &r.screen_number,
            &r.movie_id,
            &r.start_time,
            &r.end_time,
            &r.prices.standard,
            &r.prices.premium,
            &r.prices.standard,
            &r.prices.standard,
            &r.prices.currency,
        ];
        writer.as_mut().write(&values).await.context("copying showtimes")?;
    }
    writer.as_mut().finish().await.context("finishing the showtimes COPY")
}
