//! `loadgen`: the Rust half of `loadtest/run.sh` (see loadtest/README.md).
//!
//! * `prepare --users N --out DIR` (database from `BOXOFFICE_DATABASE_URL`, token key from `BOXOFFICE_JWT_SECRET`):
//!   makes N customers `load-<n>@example.com` whose ids are `md5('load-user-<n>')` (so that pgbench can compute them)
//!   and signs a token for each (`tokens.txt`); cuts the upcoming showtimes into work blocks of 70 two-seat holds,
//!   the seats of rows A-J, numbers 1-14, which every synthetic layout has (screens without them are left out) (`blocks.txt` for wrk, table
//!   `load_blocks` for pgbench); picks `--stampedes` 200-seat showtimes (`stampede-<n>.txt`: the Rust and k6
//!   stampedes and the warm seat map), kept out of the blocks.
//! * `stampede --url URL --dir DIR --buyers 1000 [--acks FILE]`: the on-sale stampede. Every buyer holds an open
//!   connection and waits at a barrier; then each wants one seat: it picks a random seat it believes free and asks
//!   for it; a 409 teaches it which seats are taken and it picks again, until it has a seat or believes none is left. Buyers
//!   share what they learn, as they would by watching a live seat map. Prints a JSON summary, and appends the id of
//!   every acknowledged (201) booking and its seat (`<id> <seat>`) to `--acks` for the harness's invariant checks.
//!   `--timeline FILE` writes each request's sending time, latency and status (CSV): where the time of a slow stampede
//!   went.
//! * `floor --url URL --buyers 1000 --requests 2`: the stampede's floor, measured in the same run: the same buyers,
//!   connections and barrier, but each sends `--requests` GETs of `/loadtest/static?bytes=300` (a body of a 409's
//!   size) one after the other, answered without authentication, JSON or database. No stampede's p99 can be lower
//!   than this one's on the same machine: it is what 1,000 requests at once cost the server, the kernel and this
//!   client together.
//! * `drain --timeout-secs 900` (database from `BOXOFFICE_DATABASE_URL`): the drain phase's stopwatch (issue 23).
//!   Polls the lapsed holds not yet expired and the unsent outbox events every `--interval-ms` until both are gone
//!   (or the timeout), and prints a JSON summary: what there was at the start, the seconds until each was gone
//!   (counted from the first poll, which the harness takes just before it starts the worker), the mean rates, and the
//!   samples.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use boxoffice::auth::model::{Role, UserId};
use boxoffice::auth::token::TokenKeys;
use boxoffice::config::Config;
use clap::{Parser, Subcommand};
use rand::seq::IndexedRandom;
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// Two-seat holds per work block: the seat pairs of rows A-J, numbers 1-14 (every synthetic layout has them).
const PAIRS_PER_BLOCK: i64 = 70;

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Users, tokens and work blocks for the load run.
    Prepare {
        /// Customers to make.
        #[arg(long, default_value_t = 2000)]
        users: i64,
        /// Where the files go.
        #[arg(long)]
        out: PathBuf,
        /// 200-seat showtimes set apart (`stampede-<n>.txt`), kept out of the work blocks.
        #[arg(long, default_value_t = 3)]
        stampedes: i64,
    },
    /// The on-sale stampede.
    Stampede {
        /// The service's base URL.
        #[arg(long)]
        url: String,
        /// The directory `prepare` wrote.
        #[arg(long)]
        dir: PathBuf,
        /// Which prepared showtime (`stampede-<n>.txt`).
        #[arg(long, default_value_t = 1)]
        showtime: usize,
        /// Concurrent buyers.
        #[arg(long, default_value_t = 1000)]
        buyers: usize,
        /// A file to which the id of every booking answered 201 is appended, one per line.
        #[arg(long)]
        acks: Option<PathBuf>,
        /// A CSV file for every request: when it was sent and how long it took (ms since the start), its status.
        #[arg(long)]
        timeline: Option<PathBuf>,
    },
    /// The stampede's floor: the same buyers asking for a static body.
    Floor {
        /// The service's base URL.
        #[arg(long)]
        url: String,
        /// Concurrent buyers.
        #[arg(long, default_value_t = 1000)]
        buyers: usize,
        /// Requests per buyer, one after the other.
        #[arg(long, default_value_t = 2)]
        requests: usize,
    },
    /// Time the worker's drain of lapsed holds and unsent mails.
    Drain {
        /// Give up after this long (the summary then says what was left).
        #[arg(long, default_value_t = 900)]
        timeout_secs: u64,
        /// Time between two polls.
        #[arg(long, default_value_t = 250)]
        interval_ms: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Prepare { users, out, stampedes } => prepare(users, &out, stampedes).await,
        Command::Stampede { url, dir, buyers, showtime, acks, timeline } => {
            stampede(&url, &dir, buyers, showtime, acks.as_deref(), timeline.as_deref()).await
        }
        Command::Floor { url, buyers, requests } => floor(&url, buyers, requests).await,
        Command::Drain { timeout_secs, interval_ms } => {
            drain(Duration::from_secs(timeout_secs), Duration::from_millis(interval_ms)).await
        }
    }
}

async fn prepare(users: i64, out: &std::path::Path, stampedes: i64) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let url = std::env::var("BOXOFFICE_DATABASE_URL").context("BOXOFFICE_DATABASE_URL")?;
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(connection);
    std::fs::create_dir_all(out)?;

    client
        .execute(
            "INSERT INTO users (id, name, email, phone_number, password_hash, role)
             SELECT md5('load-user-' || g)::uuid, 'Load ' || g, 'load-' || g || '@example.com', '+12125550100',
                    'load-test-no-login', 'customer'
             FROM generate_series(0, $1::INT8 - 1) g
             ON CONFLICT (email) DO NOTHING",
            &[&users],
        )
        .await?;
    let ids: Vec<Uuid> = client
        .query("SELECT md5('load-user-' || g)::uuid FROM generate_series(0, $1::INT8 - 1) g ORDER BY g", &[&users])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let keys = TokenKeys::from_config(&config.auth);
    let tokens: Vec<String> =
        ids.iter().map(|id| keys.issue(UserId(*id), Role::Customer).map(|t| t.token)).collect::<Result<_, _>>()?;
    std::fs::write(out.join("tokens.txt"), tokens.join("\n") + "\n")?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS load_blocks (n INT PRIMARY KEY, region TEXT NOT NULL, showtime_id UUID NOT NULL);
             TRUNCATE load_blocks;",
        )
        .await?;

    let picked = client
        .query(
            "SELECT s.id, ARRAY(SELECT st.seat_label FROM seats st
                                WHERE st.region = s.region AND st.theater_id = s.theater_id
                                  AND st.screen_number = s.screen_number ORDER BY st.grid_y, st.grid_x) AS seats
             FROM showtimes s
             WHERE s.status = 'scheduled' AND s.start_time > now() + INTERVAL '2 hours'
               AND (SELECT count(*) FROM seats st WHERE st.region = s.region AND st.theater_id = s.theater_id
                                                    AND st.screen_number = s.screen_number) = 200
             ORDER BY s.id LIMIT $1",
            &[&stampedes],
        )
        .await?;
    anyhow::ensure!(picked.len() as i64 == stampedes, "200-seat showtimes: seed the scale data (seed --scale N)");
    let stampede_ids: Vec<Uuid> = picked.iter().map(|r| r.get(0)).collect();
    for (n, row) in picked.iter().enumerate() {
        let seats: Vec<String> = row.get(1);
        std::fs::write(
            out.join(format!("stampede-{}.txt", n + 1)),
            format!("{}\n{}\n", stampede_ids[n], seats.join(",")),
        )?;
    }

    let blocks = client
        .execute(
            "WITH screens AS (
                 SELECT region, theater_id, screen_number FROM seats
                 WHERE row_label BETWEEN 'A' AND 'J' AND length(row_label) = 1 AND number BETWEEN 1 AND 14
                 GROUP BY 1, 2, 3 HAVING count(*) = 140
             )
             INSERT INTO load_blocks (n, region, showtime_id)
             SELECT (row_number() OVER (ORDER BY md5(s.id::text)) - 1)::INT, s.region, s.id
             FROM showtimes s JOIN screens USING (region, theater_id, screen_number)
             WHERE s.status = 'scheduled' AND s.start_time > now() + INTERVAL '2 hours' AND s.id <> ALL($1)",
            &[&stampede_ids],
        )
        .await?;
    client.batch_execute("ANALYZE load_blocks;").await?;
    let lines: Vec<String> = client
        .query("SELECT showtime_id::text FROM load_blocks ORDER BY n", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    std::fs::write(out.join("blocks.txt"), lines.join("\n") + "\n")?;
    println!(
        "{}",
        json!({
            "build": boxoffice::metrics::GIT_SHA,
            "users": ids.len(),
            "blocks": blocks,
            "holdsPerBlock": PAIRS_PER_BLOCK,
            "stampedeShowtimes": stampede_ids,
        })
    );
    Ok(())
}

/// What the buyers saw.
#[derive(Default)]
struct Tally {
    /// Each request's answer and latency.
    latencies: Vec<(u16, Duration)>,
    /// Each request's sending time (since the start), latency and answer.
    timeline: Vec<(Duration, Duration, u16)>,
    statuses: std::collections::BTreeMap<u16, usize>,
    sold: Vec<(String, String)>,
    last_sale: Option<Duration>,
}

async fn stampede(
    url: &str,
    dir: &std::path::Path,
    buyers: usize,
    which: usize,
    acks: Option<&std::path::Path>,
    timeline: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let tokens: Vec<String> =
        std::fs::read_to_string(dir.join("tokens.txt"))?.lines().map(str::to_owned).take(buyers).collect();
    anyhow::ensure!(tokens.len() == buyers, "prepare more users than buyers");
    let spec = std::fs::read_to_string(dir.join(format!("stampede-{which}.txt")))?;
    let mut spec_lines = spec.lines();
    let showtime: Uuid = spec_lines.next().context("showtime")?.parse()?;
    let seats: Arc<Vec<String>> = Arc::new(spec_lines.next().context("seats")?.split(',').map(str::to_owned).collect());
    let client = reqwest::Client::builder().pool_max_idle_per_host(buyers).build()?;
    // The shared seat-map view: seats known held or sold.
    let taken = Arc::new(Mutex::new(HashSet::<String>::new()));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let ready = Arc::new(Barrier::new(buyers + 1));
    let go = Arc::new(Barrier::new(buyers + 1));
    let started = Arc::new(Mutex::new(Instant::now()));

    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let (client, url, seats, taken, tally) =
                (client.clone(), url.to_owned(), seats.clone(), taken.clone(), tally.clone());
            let (ready, go, started) = (ready.clone(), go.clone(), started.clone());
            tokio::spawn(async move {
                // Open this buyer's connection before the sale starts.
                let _ = client.get(format!("{url}/healthz")).send().await;
                ready.wait().await;
                go.wait().await;
                loop {
                    let pick = {
                        let taken = taken.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let free: Vec<&String> = seats.iter().filter(|s| !taken.contains(*s)).collect();
                        free.choose(&mut rand::rng()).map(|s| (*s).clone())
                    };
                    let Some(seat) = pick else { return };
                    let t0 = Instant::now();
                    let response = client
                        .post(format!("{url}/bookings"))
                        .bearer_auth(&token)
                        .json(&json!({"showtimeId": showtime, "seatIds": [seat]}))
                        .send()
                        .await;
                    let latency = t0.elapsed();
                    let (status, body) = match response {
                        Ok(r) => (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null)),
                        Err(_) => (0, Value::Null),
                    };
                    let since_start = started.lock().unwrap_or_else(std::sync::PoisonError::into_inner).elapsed();
                    {
                        let mut tally = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        tally.latencies.push((status, latency));
                        tally.timeline.push((since_start.saturating_sub(latency), latency, status));
                        *tally.statuses.entry(status).or_default() += 1;
                        if status == 201 {
                            let id = body["id"].as_str().unwrap_or_default().to_owned();
                            tally.sold.push((seat.clone(), id));
                            tally.last_sale = Some(tally.last_sale.map_or(since_start, |l| l.max(since_start)));
                        }
                    }
                    let mut taken = taken.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    match status {
                        201 => {
                            taken.insert(seat);
                            return;
                        }
                        409 => {
                            for s in body["unavailableSeats"].as_array().into_iter().flatten() {
                                if let Some(s) = s.as_str() {
                                    taken.insert(s.to_owned());
                                }
                            }
                        }
                        // Anything else is counted and ends this buyer's attempt.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    ready.wait().await;
    *started.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
    go.wait().await;
    for task in tasks {
        task.await?;
    }
    let wall = started.lock().unwrap_or_else(std::sync::PoisonError::into_inner).elapsed();

    let tally = tally.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = acks {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        for (seat, id) in &tally.sold {
            writeln!(file, "{id} {seat}")?;
        }
    }
    if let Some(path) = timeline {
        let mut csv = String::from("sent_ms,latency_ms,status\n");
        for (sent, latency, status) in &tally.timeline {
            csv.push_str(&format!("{:.3},{:.3},{status}\n", sent.as_secs_f64() * 1e3, latency.as_secs_f64() * 1e3));
        }
        std::fs::write(path, csv)?;
    }
    let distinct: HashSet<&String> = tally.sold.iter().map(|(s, _)| s).collect();
    let server_errors: usize = tally.statuses.iter().filter(|(s, _)| **s >= 500 || **s == 0).map(|(_, n)| n).sum();
    println!(
        "{}",
        json!({
            "showtime": showtime,
            "buyers": buyers,
            "seats": seats.len(),
            "sold": tally.sold.len(),
            "distinctSeatsSold": distinct.len(),
            "requests": tally.latencies.len(),
            "statuses": tally.statuses,
            "serverErrors": server_errors,
            "soldOutAfterMs": tally.last_sale.map(|d| d.as_secs_f64() * 1000.0),
            "wallMs": wall.as_secs_f64() * 1000.0,
            "latencyMs": latency_summary(tally.latencies.iter().map(|(_, d)| *d)),
            "latencyMsByStatus": by_status(&tally.latencies),
        })
    );
    Ok(())
}

/// p50, p95, p99 and max of `latencies`, in milliseconds.
fn latency_summary(latencies: impl Iterator<Item = Duration>) -> Value {
    let mut sorted: Vec<Duration> = latencies.collect();
    sorted.sort_unstable();
    let quantile = |q: f64| {
        let i = ((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1);
        sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    json!({"p50": quantile(0.5), "p95": quantile(0.95), "p99": quantile(0.99), "max": quantile(1.0)})
}

/// [`latency_summary`] per answer status.
fn by_status(latencies: &[(u16, Duration)]) -> Value {
    let statuses: std::collections::BTreeSet<u16> = latencies.iter().map(|(s, _)| *s).collect();
    statuses
        .into_iter()
        .map(|status| {
            let of = latencies.iter().filter(|(s, _)| *s == status).map(|(_, d)| *d);
            (status.to_string(), latency_summary(of))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

async fn floor(url: &str, buyers: usize, requests: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(buyers).build()?;
    let target = format!("{url}/loadtest/static?bytes=300");
    let ready = Arc::new(Barrier::new(buyers + 1));
    let go = Arc::new(Barrier::new(buyers + 1));
    let tasks: Vec<_> = (0..buyers)
        .map(|_| {
            let (client, url, target, ready, go) =
                (client.clone(), url.to_owned(), target.clone(), ready.clone(), go.clone());
            tokio::spawn(async move {
                let _ = client.get(format!("{url}/healthz")).send().await;
                ready.wait().await;
                go.wait().await;
                let mut seen = Vec::with_capacity(requests);
                for _ in 0..requests {
                    let t0 = Instant::now();
                    let status = match client.get(&target).send().await {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let _ = r.bytes().await;
                            status
                        }
                        Err(_) => 0,
                    };
                    seen.push((status, t0.elapsed()));
                }
                seen
            })
        })
        .collect();
    ready.wait().await;
    let started = Instant::now();
    go.wait().await;
    let mut latencies = Vec::with_capacity(buyers * requests);
    for task in tasks {
        latencies.extend(task.await?);
    }
    let wall = started.elapsed();
    println!(
        "{}",
        json!({
            "buyers": buyers,
            "requests": latencies.len(),
            "statuses": latencies.iter().fold(std::collections::BTreeMap::<u16, usize>::new(), |mut m, (s, _)| {
                *m.entry(*s).or_default() += 1;
                m
            }),
            "wallMs": wall.as_secs_f64() * 1000.0,
            "latencyMs": latency_summary(latencies.iter().map(|(_, d)| *d)),
        })
    );
    Ok(())
}

/// The drain phase's stopwatch: see the module docs.
async fn drain(timeout: Duration, interval: Duration) -> anyhow::Result<()> {
    let url = std::env::var("BOXOFFICE_DATABASE_URL").context("BOXOFFICE_DATABASE_URL")?;
    let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
    tokio::spawn(connection);
    let count = || async {
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM bookings WHERE status = 'reserved' AND hold_expires_at < now()),
                        (SELECT count(*) FROM outbox WHERE sent_at IS NULL)",
                &[],
            )
            .await?;
        Ok::<_, anyhow::Error>((row.get::<_, i64>(0), row.get::<_, i64>(1)))
    };
    let started = Instant::now();
    let (holds, mails) = count().await?;
    let mut samples = vec![json!([0.0, holds, mails])];
    let (mut holds_gone, mut mails_gone) = (None, None);
    let (mut holds_left, mut mails_left) = (holds, mails);
    while (holds_gone.is_none() || mails_gone.is_none()) && started.elapsed() < timeout {
        tokio::time::sleep(interval).await;
        (holds_left, mails_left) = count().await?;
        let at = started.elapsed().as_secs_f64();
        samples.push(json!([(at * 1000.0).round() / 1000.0, holds_left, mails_left]));
        if holds_left == 0 && holds_gone.is_none() {
            holds_gone = Some(at);
        }
        if mails_left == 0 && mails_gone.is_none() {
            mails_gone = Some(at);
        }
    }
    #[expect(clippy::cast_precision_loss, reason = "rates of counts far below 2^53")]
    let rate = |n: i64, seconds: Option<f64>| seconds.map(|s| (n as f64 / s).round());
    let summary = json!({
        "lapsedHolds": holds,
        "unsentMails": mails,
        "holdsSeconds": holds_gone,
        "mailsSeconds": mails_gone,
        "holdsPerSecond": rate(holds, holds_gone),
        "mailsPerSecond": rate(mails, mails_gone),
        "holdsLeft": holds_left,
        "mailsLeft": mails_left,
        "samples": samples,
    });
    println!("{summary}");
    Ok(())
}
