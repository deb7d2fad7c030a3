//! The catalog's caches, layered so that a hot showtime's seat map costs no database query (DESIGN.md §8):
//!
//! | layer | what | where | bound |
//! |---|---|---|---|
//! | seat layouts | `(region, theater, screen)` -> layout | in process | none needed: a layout is frozen once a showtime uses it (the admin API refuses to change it), and only such layouts are cached |
//! | showtimes | id -> region, theater, screen, movie, times, prices, status, and the seat-map template | in process | `BOXOFFICE_CATALOG_TTL_MS` (5 s); an admin change on this pod evicts at once, other pods see it within the TTL |
//! | search results | `GET /theaters` and `GET /movies` bodies by normalized query, except searches around a position (they rarely repeat) | in process | the same TTL; admin changes on this pod clear it |
//! | availability | showtime -> bitmap of taken seats | Redis ([`crate::cache::seats`]) | `BOXOFFICE_SEATMAP_TTL_MS` (2 s), invalidated after each commit that changes claims |
//! | rendered map | showtime -> the last seat-map body and ETag with the bitmap it shows | in process, on the showtime entry | reused only while Redis returns the same bitmap |
//!
//! A warm seat map is therefore one `MGET` on a pipelined Redis connection, a comparison of a few dozen bytes, and
//! the reuse of a reference-counted body (a render from the template when availability changed: a few µs).
//!
//! The in-process loads of showtimes and layouts are coalesced (moka's `try_get_with`): concurrent requests for a
//! cold entry make one query. Catalog data comes from the read pool; a by-id lookup that finds nothing there asks the primary before
//! answering 404, so a showtime created a moment ago (not yet visible to a follower read) is found.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::http::HeaderValue;
use bytes::Bytes;
use moka::future::Cache;
use tokio::sync::OnceCell;

use super::model::ShowtimeId;
use super::model::seatmap::{ScreenKey, SeatLayout, SeatMapTemplate, TakenSeats};
use super::store::{self, LayoutError, ShowtimeRecord};
use crate::cache::seats::SeatCache;
use crate::config::Config;
use crate::db::Db;
use crate::error::ApiError;

/// Most seats kept across cached layouts (about 100 bytes each).
const LAYOUT_SEATS_CAPACITY: u64 = 2_000_000;

/// Most showtimes kept. Once its seat map has been served, an entry holds that map's template and its last rendered
/// body: about 36 KB for a 200-seat screen. 200,000 entries let the load run's browse and mix phases (random
/// showtimes, a 5 s TTL) grow the process by 40 MB and past the 100 MB budget. 2,000 still did: the mixed and soak
/// phases read about 550 random seat maps a second, more distinct showtimes per TTL than the cap, so the cache sat
/// full at about 70 MB, and the stampedes' 1,000 connections took the process to 109-112 MB (full run 20261125T043258Z).
/// 1,000 bound it to about 36 MB of 200-seat maps, and the full run still peaked at 105 MB (20261125T045520Z). 500:
/// the peak after 40 s of browse, 40 s of mixed and a stampede went from 81.3 to 61.1 MB (same machine, back to
/// back), about 38 KB an entry. The admission policy (TinyLFU) keeps the showtimes read the most (an on-sale's map
/// is one of them), and a miss costs one indexed read.
const SHOWTIMES_CAPACITY: u64 = 500;

/// Most search bodies kept, by total size in bytes. The searches that repeat (by city, ZIP, title) are a few KB each,
/// so thousands fit. Position searches rarely repeat and are not cached: at 64 MB a stream of them filled the cache
/// and took the process from 17 MB to 132 MB of RSS within seconds (loadtest/run.sh, `near`), past the 100 MB budget
/// (#7); at 16 MB they still added 26 MB to the process (full run 20261125T091504Z, `warmup-near`).
const SEARCH_BYTES_CAPACITY: u64 = 16 * 1024 * 1024;

/// A cached showtime: its record and, built on first use, its layout and seat-map template.
#[derive(Debug)]
pub struct CachedShowtime {
    /// What the database said.
    pub record: ShowtimeRecord,
    seat_map: OnceCell<(Arc<SeatLayout>, Arc<SeatMapTemplate>)>,
    last: LastRender,
}

/// The last seat map rendered, with the availability it shows: availability changes far less often than a popular
/// map is read, so most requests reuse it (no render, no allocation of the body). A plain mutex: held to compare a
/// few dozen bytes and clone two reference-counted handles, never across an await. Public for the seat-map bench
/// (`benches/seatmap.rs`, `warm_hit`).
#[derive(Debug, Default)]
pub struct LastRender(Mutex<Option<Rendered>>);

/// A rendered seat map.
#[derive(Debug, Clone)]
struct Rendered {
    taken: TakenSeats,
    etag: HeaderValue,
    body: Bytes,
}

impl LastRender {
    /// The ETag and body of the seat map showing `taken`, rendered by `template` unless the last one shows the
    /// same availability.
    pub fn render(&self, template: &SeatMapTemplate, taken: &TakenSeats) -> (HeaderValue, Bytes) {
        let last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = last.as_ref().filter(|r| r.taken == *taken) {
            return (r.etag.clone(), r.body.clone());
        }
        drop(last);
        // The tag is 16 hex digits between quotes: always a valid header value.
        let etag = HeaderValue::from_str(&template.etag(taken)).unwrap_or(HeaderValue::from_static("\"\""));
        let rendered = Rendered { taken: taken.clone(), etag, body: template.render(taken) };
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(rendered.clone());
        (rendered.etag, rendered.body)
    }
}

impl CachedShowtime {
    fn new(record: ShowtimeRecord) -> Self {
        Self { record, seat_map: OnceCell::new(), last: LastRender::default() }
    }

    /// The ETag and body of the seat map showing `taken` ([`LastRender::render`]).
    pub fn render(&self, template: &SeatMapTemplate, taken: &TakenSeats) -> (HeaderValue, Bytes) {
        self.last.render(template, taken)
    }
}

/// The catalog's caches (cheap to clone).
#[derive(Clone)]
pub struct CatalogCaches {
    showtimes: Cache<ShowtimeId, Arc<CachedShowtime>>,
    layouts: Cache<ScreenKey, Arc<SeatLayout>>,
    searches: Cache<String, Bytes>,
    /// The availability cache.
    pub seats: SeatCache,
}

impl std::fmt::Debug for CatalogCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogCaches").field("seats", &self.seats).finish_non_exhaustive()
    }
}

/// Why a cached load failed.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

fn api_error(err: &LoadError) -> ApiError {
    match err {
        LoadError::NotFound => ApiError::internal(anyhow::anyhow!("unexpected not-found")),
        LoadError::Pool(_) => ApiError::unavailable("the database is unavailable; retry shortly", 2),
        LoadError::Db(_) | LoadError::Layout(_) => ApiError::internal(anyhow::anyhow!("catalog load failed")),
    }
    .caused_by(anyhow::anyhow!(err.to_string()))
}

impl CatalogCaches {
    /// Empty caches configured by `config`, availability over `redis`.
    pub fn new(config: &Config, seats: SeatCache) -> Self {
        let ttl = config.catalog_ttl;
        Self {
            showtimes: Cache::builder().max_capacity(SHOWTIMES_CAPACITY).time_to_live(ttl).build(),
            layouts: Cache::builder()
                .max_capacity(LAYOUT_SEATS_CAPACITY)
                .weigher(|_, layout: &Arc<SeatLayout>| u32::try_from(layout.len()).unwrap_or(u32::MAX))
                .time_to_idle(Duration::from_secs(3600))
                .build(),
            searches: Cache::builder()
                .max_capacity(SEARCH_BYTES_CAPACITY)
                .weigher(|key: &String, body: &Bytes| u32::try_from(key.len() + body.len()).unwrap_or(u32::MAX))
                .time_to_live(ttl)
                .build(),
            seats,
        }
    }

    /// The showtime `id`, or `None`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn showtime(&self, db: &Db, id: ShowtimeId) -> Result<Option<Arc<CachedShowtime>>, ApiError> {
        let load = async {
            let found = {
                let client = db.reader().await?;
                store::showtime_by_id(&client, id).await?
            };
            let found = match found {
                Some(record) => Some(record),
                None => {
                    let client = db.write.get().await?;
                    store::showtime_by_id(&client, id).await?
                }
            };
            let record = found.ok_or(LoadError::NotFound)?;
            Ok::<_, LoadError>(Arc::new(CachedShowtime::new(record)))
        };
        match self.showtimes.try_get_with(id, load).await {
            Ok(entry) => Ok(Some(entry)),
            Err(err) if matches!(*err, LoadError::NotFound) => Ok(None),
            Err(err) => Err(api_error(&err)),
        }
    }

    /// Forgets a showtime on this pod (after an admin change).
    pub async fn forget_showtime(&self, id: ShowtimeId) {
        self.showtimes.invalidate(&id).await;
    }

    /// Forgets the layouts of a theater's screens and every cached search on this pod (after an admin change).
    pub async fn forget_theater(&self, region: &crate::db::Region, theater: super::model::TheaterId) {
        for screen_number in 1..=99 {
            self.layouts.invalidate(&ScreenKey { region: region.clone(), theater_id: theater, screen_number }).await;
        }
        self.searches.invalidate_all();
    }

    /// Forgets every cached search on this pod (after an admin change to movies).
    pub fn forget_searches(&self) {
        self.searches.invalidate_all();
    }

    /// The layout and seat-map template of a cached showtime, built once per cache entry.
    ///
    /// # Errors
    /// Database failures.
    pub async fn seat_map(
        &self,
        db: &Db,
        showtime: &CachedShowtime,
    ) -> Result<(Arc<SeatLayout>, Arc<SeatMapTemplate>), ApiError> {
        let pair = showtime
            .seat_map
            .get_or_try_init(|| async {
                let layout = self.layout(db, &showtime.record.screen).await?;
                let template = Arc::new(SeatMapTemplate::build(&showtime.record.seat_map_head(), &layout));
                Ok::<_, ApiError>((layout, template))
            })
            .await?;
        Ok(pair.clone())
    }

    /// The layout of one screen.
    ///
    /// # Errors
    /// Database failures, or a screen without a layout.
    pub async fn layout(&self, db: &Db, key: &ScreenKey) -> Result<Arc<SeatLayout>, ApiError> {
        let load =
            async { Ok::<_, LoadError>(Arc::new(load_layouts(db, std::slice::from_ref(key)).await?.swap_remove(0))) };
        self.layouts.try_get_with(key.clone(), load).await.map_err(|e| api_error(&e))
    }

    /// The layouts of several screens; the cold ones are loaded together.
    ///
    /// # Errors
    /// Database failures, or a screen without a layout.
    pub async fn layouts(&self, db: &Db, keys: &[ScreenKey]) -> Result<HashMap<ScreenKey, Arc<SeatLayout>>, ApiError> {
        let mut found = HashMap::with_capacity(keys.len());
        let mut missing: Vec<ScreenKey> = Vec::new();
        for key in keys {
            if found.contains_key(key) || missing.contains(key) {
                continue;
            }
            match self.layouts.get(key).await {
                Some(layout) => {
                    found.insert(key.clone(), layout);
                }
                None => missing.push(key.clone()),
            }
        }
        if !missing.is_empty() {
            let loaded = load_layouts(db, &missing).await.map_err(|e| api_error(&e))?;
            for (key, layout) in missing.into_iter().zip(loaded) {
                let layout = Arc::new(layout);
                self.layouts.insert(key.clone(), layout.clone()).await;
                found.insert(key, layout);
            }
        }
        Ok(found)
    }

    /// The search body cached under `key`, or the one `compute` makes (then cached; without a key, neither).
    /// Not coalesced: a search is one indexed query, and errors (which are not cached) stay plain `ApiError`s.
    ///
    /// # Errors
    /// Those of `compute`.
    pub async fn search<F>(&self, key: Option<String>, compute: F) -> Result<Bytes, ApiError>
    where
        F: Future<Output = Result<Bytes, ApiError>>,
    {
        let Some(key) = key else { return compute.await };
        if let Some(body) = self.searches.get(&key).await {
            return Ok(body);
        }
        let body = compute.await?;
        self.searches.insert(key, body.clone()).await;
        Ok(body)
    }
}

/// Layouts from the read pool; a screen whose layout is not (yet) there, as a follower read may lag its creation,
/// is read from the primary.
async fn load_layouts(db: &Db, keys: &[ScreenKey]) -> Result<Vec<SeatLayout>, LoadError> {
    let from_replica = {
        let client = db.reader().await?;
        store::screen_layouts(&client, keys).await
    };
    match from_replica {
        Ok(layouts) => Ok(layouts),
        Err(LayoutError::Invalid(..)) => {
            let client = db.write.get().await?;
            Ok(store::screen_layouts(&client, keys).await?)
        }
        Err(err) => Err(err.into()),
    }
}
