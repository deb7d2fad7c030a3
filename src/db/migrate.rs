//! The migrations runner: applies `sql/migrations/<dialect>/NNNN_name.sql` in order, once each.
//!
//! Safe from several pods at once without advisory locks (which CockroachDB ignores). An applied migration whose
//! file changed since is an error: migrations are append-only. Two ways to apply, one per dialect ([`Mode`]):
//!
//! **PostgreSQL: one transaction per migration.** The transaction first inserts the migration's row into
//! `schema_migrations`. A second runner's insert of the same version waits on the first's uncommitted row, then
//! finds it (`ON CONFLICT DO NOTHING` returns nothing) and skips; if the first rolls back, the second applies it. A
//! failed migration leaves no trace.
//!
//! **CockroachDB: one statement at a time, outside any explicit transaction.** CockroachDB cannot run
//! `ALTER DATABASE .. PRIMARY REGION / ADD REGION` in an explicit transaction, and it runs schema changes as
//! asynchronous jobs that a multi-statement transaction makes fragile (a later statement cannot see an index still
//! backfilling; a failure half-way can leave a job that commits anyway). So the file is split into statements
//! ([`statements`]), each executed on its own, and every statement of a CockroachDB migration is written to be
//! idempotent (`IF NOT EXISTS`, `ON CONFLICT DO NOTHING`). The bookkeeping, with a `finished_at` column:
//! 1. claim: insert the row (version, name, checksum) with `finished_at` NULL; the `applied_at` column doubles as
//!    a lease, renewed after every statement;
//! 2. run the statements; then set `finished_at`. On a failure the claim is deleted, so the next run starts over;
//! 3. a runner that finds a finished row skips it (or refuses it if the checksum differs); one that finds an
//!    unfinished row waits while its lease is fresh (another runner is at work), and takes it over once the lease
//!    is older than [`COCKROACH_LEASE`] (that runner crashed), with a compare-and-set on `applied_at`.
//!
//! The trade-off: a crash half-way leaves a partly applied migration until the next run completes it (re-running
//! the statements that already took effect is harmless because they are idempotent), instead of no trace at all;
//! a migration still unfinished may be corrected in place (the takeover records the new checksum), a finished one
//! may not. A single statement that outlives the lease (a huge index backfill) lets a waiting runner start the
//! same idempotent statements in parallel; run long migrations from one place or raise the lease.
//!
//! `{{database}}` in a CockroachDB migration is replaced with the current database's name, quoted as an
//! identifier: `ALTER DATABASE` has no form for "the current database", and tests migrate databases of any name.

use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::Dialect;

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number, the order of application.
    pub version: i32,
    /// Its file name without `.sql`.
    pub name: &'static str,
    /// Its text.
    pub sql: &'static str,
}

macro_rules! migrations {
    ($dialect:literal: $( $version:literal => $name:literal ),* $(,)?) => {
        &[ $( Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/migrations/", $dialect, "/", $name, ".sql")),
        } ),* ]
    };
}

/// PostgreSQL migrations, in order.
pub const POSTGRES: &[Migration] = migrations!("postgres":
    1 => "0001_schema",
    2 => "0002_booking_write_path",
    3 => "0003_payment_attempts",
    4 => "0004_search_keys_fold_punctuation",
    5 => "0005_showtime_cancellations",
    6 => "0006_tickets",
    7 => "0007_hold_extensions",
);

/// CockroachDB migrations, in order.
pub const COCKROACH: &[Migration] = migrations!("cockroach":
    1 => "0001_schema",
    2 => "0002_booking_write_path",
    3 => "0003_payment_attempts",
    4 => "0004_search_keys_fold_punctuation",
    5 => "0005_showtime_cancellations",
    6 => "0006_tickets",
    7 => "0007_hold_extensions",
);

/// How long an unfinished CockroachDB migration's claim stays valid without renewal before another runner may take
/// it over. Renewed after every statement.
pub const COCKROACH_LEASE: Duration = Duration::from_secs(300);

/// How a runner waiting on another runner's unfinished migration polls.
const WAIT_POLL: Duration = Duration::from_millis(500);

/// How migrations are applied (the module docs explain both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One transaction per migration (PostgreSQL).
    Transactional,
    /// One statement at a time outside a transaction, idempotent statements, claim with a lease (CockroachDB).
    PerStatement {
        /// See [`COCKROACH_LEASE`].
        lease: Duration,
    },
}

impl Mode {
    /// The mode of a dialect.
    pub fn for_dialect(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Postgres => Self::Transactional,
            Dialect::Cockroach => Self::PerStatement { lease: COCKROACH_LEASE },
        }
    }
}

/// The migrations of a dialect.
pub fn for_dialect(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Postgres => POSTGRES,
        Dialect::Cockroach => COCKROACH,
    }
}

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A statement failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        /// The migration.
        version: i32,
        /// Its name.
        name: &'static str,
        /// The database's error.
        source: tokio_postgres::Error,
    },
    /// An applied migration's file changed.
    #[error("migration {version} ({name}) was edited after it was applied; add a new migration instead")]
    Edited {
        /// The migration.
        version: i32,
        /// Its name.
        name: &'static str,
    },
    /// The tracking table could not be read or created.
    #[error("migrations table: {0}")]
    Tracking(#[from] tokio_postgres::Error),
    /// This dialect has no migrations in this build.
    #[error("no migrations for {0} in this build")]
    NoMigrations(&'static str),
}

/// FNV-1a, 64 bits, as hex: a stable fingerprint of a migration's text (not a security measure).
pub fn checksum(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

const CREATE_TRACKING: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// Applies every pending migration of `dialect`; returns the versions applied by this call.
///
/// # Errors
/// See [`MigrateError`]. On PostgreSQL a failed migration leaves no trace (its transaction rolls back); on
/// CockroachDB it leaves the statements that succeeded, and the next run applies it again.
pub async fn run(client: &mut Client, dialect: Dialect) -> Result<Vec<i32>, MigrateError> {
    let migrations = for_dialect(dialect);
    if migrations.is_empty() {
        return Err(MigrateError::NoMigrations(dialect.name()));
    }
    apply(client, migrations, Mode::for_dialect(dialect)).await
}

/// Applies `migrations` (in order) in `mode`; returns the versions applied by this call. [`run`] is this with the
/// dialect's list and mode; tests call it with their own migrations.
///
/// # Errors
/// See [`run`].
pub async fn apply(client: &mut Client, migrations: &[Migration], mode: Mode) -> Result<Vec<i32>, MigrateError> {
    match mode {
        Mode::Transactional => apply_in_transactions(client, migrations).await,
        Mode::PerStatement { lease } => apply_per_statement(client, migrations, lease).await,
    }
}

async fn apply_in_transactions(client: &mut Client, migrations: &[Migration]) -> Result<Vec<i32>, MigrateError> {
    // Two runners creating the table at once: one of them gets a duplicate-object error from the catalog. The table
    // exists either way, so a second try settles it.
    if let Err(err) = client.batch_execute(CREATE_TRACKING).await {
        let race = [SqlState::UNIQUE_VIOLATION, SqlState::DUPLICATE_TABLE];
        if !err.code().is_some_and(|c| race.contains(c)) {
            return Err(err.into());
        }
        client.batch_execute(CREATE_TRACKING).await?;
    }
    let mut applied = Vec::new();
    for m in migrations {
        let sum = checksum(m.sql);
        let tx = client.transaction().await?;
        let claimed = tx
            .query(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3) \
                 ON CONFLICT (version) DO NOTHING RETURNING version",
                &[&m.version, &m.name, &sum],
            )
            .await?;
        if claimed.is_empty() {
            let row = tx.query_one("SELECT checksum FROM schema_migrations WHERE version = $1", &[&m.version]).await?;
            tx.rollback().await?;
            if row.get::<_, String>(0) != sum {
                return Err(MigrateError::Edited { version: m.version, name: m.name });
            }
            continue;
        }
        tx.batch_execute(m.sql).await.map_err(|source| MigrateError::Failed {
            version: m.version,
            name: m.name,
            source,
        })?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        applied.push(m.version);
    }
    Ok(applied)
}

const CREATE_TRACKING_PER_STATEMENT: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INT4 PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
)";

/// What a runner found in `schema_migrations` for a migration it could not claim.
enum Claim {
    /// Finished with this checksum.
    Finished(String),
    /// Another runner holds a fresh lease.
    Busy,
    /// The lease expired and this runner took the claim over.
    TakenOver,
    /// The row went away (its runner failed and released it): claim again.
    Released,
}

async fn apply_per_statement(
    client: &mut Client,
    migrations: &[Migration],
    lease: Duration,
) -> Result<Vec<i32>, MigrateError> {
    // Single statements are implicit transactions on CockroachDB, which retries them itself; IF NOT EXISTS makes two
    // runners creating the table at once harmless (the loser may still see the catalog race, so try twice).
    if client.batch_execute(CREATE_TRACKING_PER_STATEMENT).await.is_err() {
        client.batch_execute(CREATE_TRACKING_PER_STATEMENT).await?;
    }
    let database: String = client.query_one("SELECT current_database()", &[]).await?.get(0);
    let lease_secs = lease.as_secs_f64();
    let mut applied = Vec::new();
    for m in migrations {
        let sum = checksum(m.sql);
        loop {
            let claimed = client
                .query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3) \
                     ON CONFLICT (version) DO NOTHING RETURNING version",
                    &[&m.version, &m.name, &sum],
                )
                .await?;
            let mine = if claimed.is_empty() {
                match inspect_claim(client, m, &sum, lease_secs).await? {
                    Claim::Finished(recorded) if recorded == sum => break,
                    Claim::Finished(_) => return Err(MigrateError::Edited { version: m.version, name: m.name }),
                    Claim::Busy => {
                        tokio::time::sleep(WAIT_POLL).await;
                        false
                    }
                    Claim::Released => false,
                    Claim::TakenOver => {
                        tracing::warn!(version = m.version, name = m.name, "taking over an abandoned migration");
                        true
                    }
                }
            } else {
                true
            };
            if !mine {
                continue;
            }
            if let Err(source) = run_statements(client, m, &database).await {
                // Release the claim so that the next run starts over at once rather than after the lease.
                let _ = client
                    .execute("DELETE FROM schema_migrations WHERE version = $1 AND finished_at IS NULL", &[&m.version])
                    .await;
                return Err(MigrateError::Failed { version: m.version, name: m.name, source });
            }
            client
                .execute("UPDATE schema_migrations SET finished_at = now() WHERE version = $1", &[&m.version])
                .await?;
            tracing::info!(version = m.version, name = m.name, "migration applied");
            applied.push(m.version);
            break;
        }
    }
    Ok(applied)
}

async fn inspect_claim(client: &Client, m: &Migration, sum: &str, lease_secs: f64) -> Result<Claim, MigrateError> {
    let row = client
        .query_opt(
            "SELECT checksum, finished_at IS NOT NULL, applied_at < now() - $2 * INTERVAL '1 second' \
             FROM schema_migrations WHERE version = $1",
            &[&m.version, &lease_secs],
        )
        .await?;
    let Some(row) = row else { return Ok(Claim::Released) };
    let (recorded, finished, stale): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if finished {
        return Ok(Claim::Finished(recorded));
    }
    if !stale {
        return Ok(Claim::Busy);
    }
    // Compare-and-set: of several runners finding the same stale claim, one renews it.
    let taken = client
        .query(
            "UPDATE schema_migrations SET applied_at = now(), checksum = $2, name = $3 \
             WHERE version = $1 AND finished_at IS NULL AND applied_at < now() - $4 * INTERVAL '1 second' \
             RETURNING version",
            &[&m.version, &sum, &m.name, &lease_secs],
        )
        .await?;
    Ok(if taken.is_empty() { Claim::Busy } else { Claim::TakenOver })
}

/// Runs a migration's statements one by one, renewing the lease after each.
async fn run_statements(client: &Client, m: &Migration, database: &str) -> Result<(), tokio_postgres::Error> {
    let sql = m.sql.replace("{{database}}", &quote_identifier(database));
    for statement in statements(&sql) {
        client.batch_execute(statement).await?;
        client.execute("UPDATE schema_migrations SET applied_at = now() WHERE version = $1", &[&m.version]).await?;
    }
    Ok(())
}

/// `name` as a double-quoted SQL identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The statements of a SQL file: split at semicolons outside quotes (`'..'`, `".."`, `$$..$$`) and comments
/// (`-- ..`, `/* .. */`), trimmed, without empty ones. Comments stay inside the statement they precede.
pub fn statements(sql: &str) -> Vec<&str> {
    #[derive(Clone, Copy, PartialEq)]
    enum In {
        Code,
        Single,
        Double,
        Dollar,
        Line,
        Block,
    }
    let bytes = sql.as_bytes();
    let mut state = In::Code;
    let mut start = 0;
    let mut out = Vec::new();
    let mut i = 0;
    fn push<'a>(out: &mut Vec<&'a str>, piece: &'a str) {
        // A piece made of comments and blanks only is not a statement.
        let meaningful = piece.lines().map(str::trim).any(|l| !l.is_empty() && !l.starts_with("--"));
        if meaningful {
            out.push(piece.trim());
        }
    }
    while i < bytes.len() {
        let next = bytes.get(i + 1).copied();
        match (state, bytes[i]) {
            (In::Code, b'\'') => state = In::Single,
            (In::Code, b'"') => state = In::Double,
            (In::Code, b'$') if next == Some(b'$') => {
                state = In::Dollar;
                i += 1;
            }
            (In::Code, b'-') if next == Some(b'-') => state = In::Line,
            (In::Code, b'/') if next == Some(b'*') => {
                state = In::Block;
                i += 1;
            }
            (In::Code, b';') => {
                push(&mut out, &sql[start..i]);
                start = i + 1;
            }
            // A doubled quote inside a literal is an escaped quote: leaving and re-entering handles it.
            (In::Single, b'\'') => state = In::Code,
            (In::Double, b'"') => state = In::Code,
            (In::Dollar, b'$') if next == Some(b'$') => {
                state = In::Code;
                i += 1;
            }
            (In::Line, b'\n') => state = In::Code,
            (In::Block, b'*') if next == Some(b'/') => {
                state = In::Code;
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    push(&mut out, &sql[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_listed_in_order() {
        for (dialect, listed) in [("postgres", POSTGRES), ("cockroach", COCKROACH)] {
            let dir = format!("{}/sql/migrations/{dialect}", env!("CARGO_MANIFEST_DIR"));
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok()?.file_name().into_string().ok())
                        .filter_map(|name| name.strip_suffix(".sql").map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            files.sort();
            let names: Vec<_> = listed.iter().map(|m| m.name.to_owned()).collect();
            assert_eq!(files, names, "{dir} and the list in migrate.rs differ");
            for (i, m) in listed.iter().enumerate() {
                assert_eq!(m.version as usize, i + 1, "{}", m.name);
                assert!(m.name.starts_with(&format!("{:04}_", m.version)), "{}", m.name);
            }
        }
    }

    #[test]
    fn checksum_is_stable_and_sensitive() {
        assert_eq!(checksum("SELECT 1"), checksum("SELECT 1"));
        assert_ne!(checksum("SELECT 1"), checksum("SELECT 2"));
        assert_eq!(checksum("").len(), 16);
    }

    #[test]
    fn statements_split_at_semicolons_outside_quotes_and_comments() {
        let sql = "-- header; with a semicolon\n\
                   CREATE TABLE a (x TEXT DEFAULT 'a;b', \"odd;name\" INT); -- trailing; comment\n\
                   /* block; comment */ INSERT INTO a VALUES ('it''s; fine');\n\
                   ALTER TABLE a ADD COLUMN y TEXT DEFAULT $$dollar;quoted$$;\n\
                   ;\n\
                   -- only a comment; at the end\n";
        let parts = statements(sql);
        assert_eq!(parts.len(), 3, "{parts:#?}");
        assert!(parts[0].ends_with("\"odd;name\" INT)"), "{}", parts[0]);
        assert!(parts[1].contains("INSERT INTO a VALUES ('it''s; fine')"), "{}", parts[1]);
        assert!(parts[2].ends_with("$$dollar;quoted$$"), "{}", parts[2]);
    }

    #[test]
    fn identifiers_are_quoted_with_quotes_doubled() {
        assert_eq!(quote_identifier("boxoffice"), "\"boxoffice\"");
        assert_eq!(quote_identifier("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn the_cockroach_migration_is_idempotent_statement_by_statement() {
        for m in COCKROACH {
            let sql = m.sql.replace("{{database}}", &quote_identifier("db"));
            let parts = statements(&sql);
            assert!(!parts.is_empty(), "{}: no statements", m.name);
            for statement in parts {
                let code: String =
                    statement.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join(" ");
                let upper = code.to_uppercase();
                // An UPDATE must set values read from the data (never `x = x + 1`): reviewed, not checked here.
                let idempotent = upper.contains("IF NOT EXISTS")
                    || upper.contains("IF EXISTS")
                    || upper.contains("ON CONFLICT")
                    || upper.contains("SET PRIMARY REGION")
                    || upper.trim_start().starts_with("UPDATE ");
                assert!(idempotent, "{}: not idempotent, cannot be re-run after a crash:\n{statement}", m.name);
                assert!(
                    !upper.contains("BEGIN") && !upper.contains("COMMIT"),
                    "{}: no transactions:\n{statement}",
                    m.name
                );
            }
        }
    }

    /// The CockroachDB schema must mirror the PostgreSQL one: the shared DML and the error mapping by constraint
    /// name depend on it, and no CockroachDB runs on our machines to catch a drift.
    #[test]
    fn the_cockroach_schema_mirrors_the_postgres_schema() {
        let pg = schema_outline(POSTGRES);
        let crdb = schema_outline(COCKROACH);
        assert!(pg.tables.iter().any(|t| t.columns.iter().any(|(c, _)| c == "payment_attempts")), "0003 applied");
        // PostgreSQL's region partitions are CockroachDB's REGIONAL BY ROW: not tables of their own.
        let pg_tables: Vec<_> = pg.tables.iter().filter(|t| !t.partition).collect();
        let names = |ts: &[&Table]| ts.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&pg_tables), names(&crdb.tables.iter().collect::<Vec<_>>()), "the same tables, in order");
        for (p, c) in pg_tables.iter().zip(&crdb.tables) {
            assert_eq!(p.columns, c.columns, "{}: the same columns with the same types", p.name);
            assert_eq!(p.constraints, c.constraints, "{}: the same constraint names", p.name);
        }
        assert_eq!(pg.indexes, crdb.indexes, "the same indexes");
        assert!(crdb.tables.iter().all(|t| t.locality.is_some()), "every CockroachDB table states its locality");
        for t in &crdb.tables {
            let regional =
                t.columns.iter().any(|(name, _)| name == "region") && !["regions", "cities"].contains(&t.name.as_str());
            let expected = if regional { "REGIONAL BY ROW AS REGION" } else { "GLOBAL" };
            assert_eq!(t.locality.as_deref(), Some(expected), "{}", t.name);
        }
    }

    #[derive(Debug)]
    struct Table {
        name: String,
        partition: bool,
        columns: Vec<(String, String)>,
        constraints: Vec<String>,
        locality: Option<String>,
    }

    struct Outline {
        tables: Vec<Table>,
        indexes: Vec<String>,
    }

    /// Tables (columns with normalised types, constraint names, locality) and index names after a dialect's
    /// migrations: CREATE TABLE, CREATE INDEX, DROP INDEX and ALTER TABLE .. ADD COLUMN.
    fn schema_outline(migrations: &[Migration]) -> Outline {
        let mut tables: Vec<Table> = Vec::new();
        let mut indexes = Vec::new();
        for statement in migrations.iter().flat_map(|m| statements(m.sql)) {
            let code: String =
                statement.lines().map(|l| l.split("--").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
            let words: Vec<&str> = code.split_whitespace().collect();
            let after_exists = |i: usize| match words.get(i..i + 3) {
                Some(["IF", "NOT", "EXISTS"]) => i + 3,
                _ if words.get(i..i + 2) == Some(&["IF", "EXISTS"]) => i + 2,
                _ => i,
            };
            if words.starts_with(&["CREATE", "INDEX"]) {
                indexes.push(words[after_exists(2)].to_owned());
            }
            if words.starts_with(&["DROP", "INDEX"]) {
                // CockroachDB names it table@index.
                let name = words[after_exists(2)].rsplit('@').next().unwrap_or_default();
                let before = indexes.len();
                indexes.retain(|i| i != name);
                assert_eq!(indexes.len() + 1, before, "DROP INDEX {name}: no such index");
            }
            if words.starts_with(&["ALTER", "TABLE"]) && words.get(3..5) == Some(&["ADD", "COLUMN"]) {
                let table = tables.iter_mut().find(|t| t.name == words[2]).expect("ALTER TABLE of a known table");
                let at = after_exists(5);
                table.columns.push((words[at].to_owned(), normalised_type(words[at], words[at + 1])));
            }
            if !words.starts_with(&["CREATE", "TABLE"]) {
                continue;
            }
            let name = words[after_exists(2)].to_owned();
            if words.contains(&"PARTITION") && words.contains(&"OF") {
                tables.push(Table { name, partition: true, columns: vec![], constraints: vec![], locality: None });
                continue;
            }
            let body_start = code.find('(').expect("a column list");
            let body_end = code.rfind(')').expect("a column list");
            let (mut columns, mut constraints) = (Vec::new(), Vec::new());
            for line in code[body_start + 1..body_end].lines().map(str::trim).filter(|l| !l.is_empty()) {
                let parts: Vec<&str> = line.split_whitespace().collect();
                match parts[0] {
                    "CONSTRAINT" => constraints.push(parts[1].to_owned()),
                    "CHECK" | "REFERENCES" | "ON" => {}
                    column if column.chars().all(|c| c.is_ascii_lowercase() || c == '_') && parts.len() > 1 => {
                        if line.contains("PRIMARY KEY") {
                            constraints.push(format!("{name}_pkey"));
                        }
                        columns.push((column.to_owned(), normalised_type(column, parts[1])));
                    }
                    _ => {}
                }
            }
            constraints.sort();
            let tail = code[body_end + 1..].to_uppercase();
            let locality = tail.split("LOCALITY").nth(1).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "));
            tables.push(Table { name, partition: false, columns, constraints, locality });
        }
        indexes.sort();
        Outline { tables, indexes }
    }

    /// A column's type as both dialects can be compared by.
    fn normalised_type(column: &str, ty: &str) -> String {
        match (column, ty.trim_end_matches([',', ';'])) {
            ("region", "TEXT" | "crdb_internal_region") => "REGION",
            (_, "INT" | "INTEGER" | "INT4") => "INT4",
            (_, "BIGINT" | "INT8") => "INT8",
            (_, "DOUBLE") => "FLOAT8",
            (_, other) => other,
        }
        .to_owned()
    }
}
