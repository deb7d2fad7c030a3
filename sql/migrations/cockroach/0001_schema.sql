-- 0001: the data model of DESIGN.md §4–5 for CockroachDB (v23.1 or later), multi-region.
--
-- The twin of sql/migrations/postgres/0001_schema.sql: the same tables, columns, constraint and index names, so the
-- shared DML in sql/queries/ and the error mapping by constraint name work unchanged. What differs, and why:
-- * The database is multi-region: primary region 'us-east', regions 'us-central' and 'us-west'. The cluster's nodes
--   must have been started with `--locality=region=<one of these>,...` (ADD REGION only accepts regions that nodes
--   report in SHOW REGIONS FROM CLUSTER). Survival goal: ZONE (the default); see the README for SURVIVE REGION FAILURE.
-- * `region` is the database's region enum `crdb_internal_region`, created by SET PRIMARY REGION; the application's
--   `Region` type binds as that enum. Reference tables reference `regions (region)` like on PostgreSQL.
-- * Reference data (regions, cities, zip_codes, movies) is LOCALITY GLOBAL: read locally in every region, written
--   rarely, at the price of slow writes.
-- * users is LOCALITY GLOBAL too, although it is not reference data: every hold checks bookings_user_fkey and every
--   login reads it, from any region; registrations and failed-login counters pay the global write latency instead.
-- * Regional tables are LOCALITY REGIONAL BY ROW AS region: each row lives (leaseholder and quorum) in its region.
--   This replaces PostgreSQL's LIST partitions; there is no DEFAULT partition to create (ADD REGION covers a new one).
-- * idempotency_keys has a row-level TTL on expires_at, and sent outbox rows a TTL of 7 days after sent_at (an unsent
--   row's expiration is NULL: it never expires). The worker's portable purge of idempotency keys still runs, harmless.
-- * Integer widths are spelled out: CockroachDB's INT is 8 bytes, PostgreSQL's 4, and the Rust side reads i32 from
--   the columns PostgreSQL declares INT, so they are INT4 here (BIGINT is INT8 on both).
--
-- How it runs: CockroachDB cannot run ALTER DATABASE .. PRIMARY REGION / ADD REGION, nor schema changes on
-- multi-region tables, inside an explicit multi-statement transaction, so the migrations runner (src/db/migrate.rs)
-- executes this file one statement at a time, outside a transaction. Every statement is therefore idempotent
-- (IF NOT EXISTS, ON CONFLICT DO NOTHING) so that a run interrupted half-way can simply run again. `{{database}}` is
-- replaced by the runner with the current database's name, quoted as an identifier.

-- Regions ---------------------------------------------------------------------------------------------------------

ALTER DATABASE {{database}} SET PRIMARY REGION "us-east";
ALTER DATABASE {{database}} ADD REGION IF NOT EXISTS "us-central";
ALTER DATABASE {{database}} ADD REGION IF NOT EXISTS "us-west";

-- Reference data --------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS regions (
    region       crdb_internal_region NOT NULL,
    display_name TEXT NOT NULL,
    CONSTRAINT regions_pkey PRIMARY KEY (region)
) LOCALITY GLOBAL;

CREATE TABLE IF NOT EXISTS cities (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    region      crdb_internal_region NOT NULL,
    name        TEXT NOT NULL,
    search_name TEXT NOT NULL,   -- lower-case, accent-free form of `name` (see the PostgreSQL twin)
    state       TEXT NOT NULL,
    country     TEXT NOT NULL,
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    time_zone   TEXT NOT NULL,
    CONSTRAINT cities_pkey PRIMARY KEY (id),
    CONSTRAINT cities_region_fkey FOREIGN KEY (region) REFERENCES regions (region),
    CONSTRAINT cities_search_name_state_country_key UNIQUE (search_name, state, country),
    CONSTRAINT cities_lat_check CHECK (lat BETWEEN -90 AND 90),
    CONSTRAINT cities_lon_check CHECK (lon BETWEEN -180 AND 180)
) LOCALITY GLOBAL;

CREATE TABLE IF NOT EXISTS zip_codes (
    country TEXT NOT NULL,
    zip     TEXT NOT NULL,
    city_id UUID NOT NULL,
    lat     DOUBLE PRECISION NOT NULL,
    lon     DOUBLE PRECISION NOT NULL,
    CONSTRAINT zip_codes_pkey PRIMARY KEY (country, zip),
    CONSTRAINT zip_codes_city_fkey FOREIGN KEY (city_id) REFERENCES cities (id)
) LOCALITY GLOBAL;
CREATE INDEX IF NOT EXISTS zip_codes_zip_idx ON zip_codes (zip);

CREATE TABLE IF NOT EXISTS movies (
    id           UUID NOT NULL DEFAULT gen_random_uuid(),
    title        TEXT NOT NULL,
    search_title TEXT NOT NULL,
    duration_min INT4 NOT NULL,
    genre        TEXT NOT NULL,
    rating       TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    release_date DATE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT movies_pkey PRIMARY KEY (id),
    CONSTRAINT movies_duration_check CHECK (duration_min BETWEEN 1 AND 600),
    CONSTRAINT movies_rating_check CHECK (rating IN ('G', 'PG', 'PG-13', 'R', 'NC-17', 'NR'))
) LOCALITY GLOBAL;
CREATE INDEX IF NOT EXISTS movies_genre_idx ON movies (genre);

-- Identity --------------------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS users (
    id            UUID NOT NULL DEFAULT gen_random_uuid(),
    name          TEXT NOT NULL,
    email         TEXT NOT NULL,
    phone_number  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'customer',
    failed_logins INT4 NOT NULL DEFAULT 0,
    locked_until  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'admin'))
) LOCALITY GLOBAL;

-- Theaters and their screens (regional) ---------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS theaters (
    region            crdb_internal_region NOT NULL,
    id                UUID NOT NULL DEFAULT gen_random_uuid(),
    city_id           UUID NOT NULL,
    name              TEXT NOT NULL,
    address           TEXT NOT NULL,
    zip               TEXT NOT NULL,
    lat               DOUBLE PRECISION NOT NULL,
    lon               DOUBLE PRECISION NOT NULL,
    number_of_screens INT4 NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT theaters_pkey PRIMARY KEY (region, id),
    CONSTRAINT theaters_region_fkey FOREIGN KEY (region) REFERENCES regions (region),
    CONSTRAINT theaters_city_fkey FOREIGN KEY (city_id) REFERENCES cities (id),
    CONSTRAINT theaters_lat_check CHECK (lat BETWEEN -90 AND 90),
    CONSTRAINT theaters_lon_check CHECK (lon BETWEEN -180 AND 180)
) LOCALITY REGIONAL BY ROW AS region;
-- On a REGIONAL BY ROW table every index is implicitly prefixed by region: a lookup by id alone fans out to the
-- regions (locality-optimized search tries the local one first), as the PostgreSQL plain index on id scans partitions.
CREATE INDEX IF NOT EXISTS theaters_id_idx ON theaters (id);
CREATE INDEX IF NOT EXISTS theaters_city_idx ON theaters (city_id, name);
CREATE INDEX IF NOT EXISTS theaters_lat_lon_idx ON theaters (lat, lon);

CREATE TABLE IF NOT EXISTS screens (
    region        crdb_internal_region NOT NULL,
    theater_id    UUID NOT NULL,
    screen_number INT4 NOT NULL,
    name          TEXT NOT NULL,
    CONSTRAINT screens_pkey PRIMARY KEY (region, theater_id, screen_number),
    CONSTRAINT screens_theater_fkey FOREIGN KEY (region, theater_id) REFERENCES theaters (region, id),
    CONSTRAINT screens_number_check CHECK (screen_number > 0)
) LOCALITY REGIONAL BY ROW AS region;

CREATE TABLE IF NOT EXISTS seats (
    region        crdb_internal_region NOT NULL,
    theater_id    UUID NOT NULL,
    screen_number INT4 NOT NULL,
    seat_label    TEXT NOT NULL,
    row_label     TEXT NOT NULL,
    number        INT4 NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'standard',
    grid_x        INT4 NOT NULL,
    grid_y        INT4 NOT NULL,
    CONSTRAINT seats_pkey PRIMARY KEY (region, theater_id, screen_number, seat_label),
    CONSTRAINT seats_screen_fkey FOREIGN KEY (region, theater_id, screen_number)
        REFERENCES screens (region, theater_id, screen_number),
    CONSTRAINT seats_kind_check CHECK (kind IN ('standard', 'premium', 'accessible', 'companion')),
    CONSTRAINT seats_grid_key UNIQUE (region, theater_id, screen_number, grid_x, grid_y)
) LOCALITY REGIONAL BY ROW AS region;

-- Showtimes (regional) --------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS showtimes (
    region           crdb_internal_region NOT NULL,
    id               UUID NOT NULL DEFAULT gen_random_uuid(),
    theater_id       UUID NOT NULL,
    screen_number    INT4 NOT NULL,
    movie_id         UUID NOT NULL,
    start_time       TIMESTAMPTZ NOT NULL,
    end_time         TIMESTAMPTZ NOT NULL,
    price_standard   INT8 NOT NULL,
    price_premium    INT8 NOT NULL,
    price_accessible INT8 NOT NULL,
    price_companion  INT8 NOT NULL,
    currency         TEXT NOT NULL DEFAULT 'USD',
    status           TEXT NOT NULL DEFAULT 'scheduled',
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT showtimes_pkey PRIMARY KEY (region, id),
    CONSTRAINT showtimes_screen_fkey FOREIGN KEY (region, theater_id, screen_number)
        REFERENCES screens (region, theater_id, screen_number),
    CONSTRAINT showtimes_movie_fkey FOREIGN KEY (movie_id) REFERENCES movies (id),
    CONSTRAINT showtimes_time_check CHECK (end_time > start_time),
    CONSTRAINT showtimes_prices_check
        CHECK (price_standard >= 0 AND price_premium >= 0 AND price_accessible >= 0 AND price_companion >= 0),
    CONSTRAINT showtimes_currency_check CHECK (length(currency) = 3),
    CONSTRAINT showtimes_status_check CHECK (status IN ('scheduled', 'canceled'))
) LOCALITY REGIONAL BY ROW AS region;
CREATE INDEX IF NOT EXISTS showtimes_id_idx ON showtimes (id);
CREATE INDEX IF NOT EXISTS showtimes_screen_time_idx ON showtimes (region, theater_id, screen_number, start_time);
CREATE INDEX IF NOT EXISTS showtimes_movie_time_idx ON showtimes (movie_id, start_time);

-- Bookings (regional) ---------------------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS bookings (
    region          crdb_internal_region NOT NULL,
    id              UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id         UUID NOT NULL,
    showtime_id     UUID NOT NULL,
    status          TEXT NOT NULL DEFAULT 'reserved',
    seats           JSONB NOT NULL,
    seat_count      INT4 NOT NULL,
    total_amount    INT8 NOT NULL,
    currency        TEXT NOT NULL,
    hold_expires_at TIMESTAMPTZ,
    payment_ref     TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT bookings_pkey PRIMARY KEY (region, id),
    CONSTRAINT bookings_showtime_fkey FOREIGN KEY (region, showtime_id) REFERENCES showtimes (region, id),
    CONSTRAINT bookings_user_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT bookings_status_check
        CHECK (status IN ('reserved', 'payment_pending', 'paid', 'canceled', 'expired')),
    CONSTRAINT bookings_seat_count_check CHECK (seat_count > 0),
    CONSTRAINT bookings_total_check CHECK (total_amount >= 0)
) LOCALITY REGIONAL BY ROW AS region;
CREATE INDEX IF NOT EXISTS bookings_id_idx ON bookings (id);
CREATE INDEX IF NOT EXISTS bookings_user_idx ON bookings (user_id, created_at);
CREATE INDEX IF NOT EXISTS bookings_showtime_user_idx ON bookings (region, showtime_id, user_id);
CREATE INDEX IF NOT EXISTS bookings_status_expiry_idx ON bookings (status, hold_expires_at);

-- The double-booking guard (invariant I1): one row per claimed seat, primary key (region, showtime_id, seat_label).
-- REGIONAL BY ROW keeps the key's uniqueness check inside the showtime's region.
CREATE TABLE IF NOT EXISTS booking_seats (
    region          crdb_internal_region NOT NULL,
    showtime_id     UUID NOT NULL,
    seat_label      TEXT NOT NULL,
    booking_id      UUID NOT NULL,
    hold_expires_at TIMESTAMPTZ,
    CONSTRAINT booking_seats_pkey PRIMARY KEY (region, showtime_id, seat_label),
    CONSTRAINT booking_seats_showtime_fkey FOREIGN KEY (region, showtime_id) REFERENCES showtimes (region, id),
    CONSTRAINT booking_seats_booking_fkey FOREIGN KEY (region, booking_id) REFERENCES bookings (region, id)
        ON DELETE CASCADE
) LOCALITY REGIONAL BY ROW AS region;
CREATE INDEX IF NOT EXISTS booking_seats_booking_idx ON booking_seats (region, booking_id);

-- Idempotency, outbox, payments (regional) ------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS idempotency_keys (
    region          crdb_internal_region NOT NULL,
    user_id         UUID NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    response_status INT4,
    response_body   JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (region, user_id, key),
    CONSTRAINT idempotency_keys_region_fkey FOREIGN KEY (region) REFERENCES regions (region),
    CONSTRAINT idempotency_keys_user_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT idempotency_keys_key_check CHECK (length(key) BETWEEN 1 AND 255)
) WITH (ttl_expiration_expression = 'expires_at', ttl_job_cron = '*/15 * * * *')
  LOCALITY REGIONAL BY ROW AS region;
CREATE INDEX IF NOT EXISTS idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

CREATE TABLE IF NOT EXISTS outbox (
    region          crdb_internal_region NOT NULL,
    id              UUID NOT NULL DEFAULT gen_random_uuid(),
    topic           TEXT NOT NULL,
    payload         JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    attempts        INT4 NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    CONSTRAINT outbox_pkey PRIMARY KEY (region, id),
    CONSTRAINT outbox_region_fkey FOREIGN KEY (region) REFERENCES regions (region)
) WITH (ttl_expiration_expression = 'sent_at + INTERVAL ''7 days''', ttl_job_cron = '@hourly')
  LOCALITY REGIONAL BY ROW AS region;
CREATE INDEX IF NOT EXISTS outbox_pending_idx ON outbox (next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE IF NOT EXISTS payments (
    region       crdb_internal_region NOT NULL,
    booking_id   UUID NOT NULL,
    attempt      INT4 NOT NULL,
    provider     TEXT NOT NULL,
    provider_ref TEXT,
    amount       INT8 NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT payments_pkey PRIMARY KEY (region, booking_id, attempt),
    CONSTRAINT payments_booking_fkey FOREIGN KEY (region, booking_id) REFERENCES bookings (region, id),
    CONSTRAINT payments_status_check
        CHECK (status IN ('pending', 'succeeded', 'declined', 'failed', 'unknown', 'refunded')),
    CONSTRAINT payments_amount_check CHECK (amount >= 0)
) LOCALITY REGIONAL BY ROW AS region;
CREATE INDEX IF NOT EXISTS payments_status_idx ON payments (status, updated_at);

-- The regions' reference rows -------------------------------------------------------------------------------------

INSERT INTO regions (region, display_name) VALUES
    ('us-east', 'US East'),
    ('us-central', 'US Central'),
    ('us-west', 'US West')
ON CONFLICT (region) DO NOTHING;

-- Optional, not run here (it needs a sink and the cluster setting kv.rangefeed.enabled = true): stream the outbox
-- to Kafka instead of polling it; the worker's dispatcher then only marks rows sent.
--   CREATE CHANGEFEED FOR TABLE outbox INTO 'kafka://kafka:9092?topic_prefix=boxoffice_'
--     WITH updated, resolved = '10s', min_checkpoint_frequency = '10s';
