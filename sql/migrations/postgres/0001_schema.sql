-- 0001: the whole data model of DESIGN.md §4–5 for PostgreSQL 15.
--
-- Decisions recorded here:
-- * Every regional row carries `region` (copied from its city when written) and every regional primary, unique and
--   foreign key leads with it, so the CockroachDB twin of this file can make the same tables REGIONAL BY ROW.
-- * showtimes, bookings and booking_seats are LIST-partitioned by region (the booking path). Each demo region gets a
--   partition, plus a DEFAULT partition so a region added later works before its own partition is created.
-- * A partitioned table cannot have a unique index without the partition key, so lookups by id alone use plain
--   (non-unique) indexes on `id`; UUIDs are unique anyway and the primary key (region, id) is the real guard.
-- * Enumerations are TEXT + named CHECK constraints (portable, and a new value is a one-line migration).
-- * No sequences, triggers, domains, EXCLUDE or DEFERRABLE: they do not port to CockroachDB (DESIGN.md §3).
-- * Money is BIGINT minor units with an ISO 4217 currency next to it.

-- Reference data --------------------------------------------------------------------------------------------------

CREATE TABLE regions (
    region       TEXT PRIMARY KEY,   -- e.g. 'us-east'; the CockroachDB region name of the same data
    display_name TEXT NOT NULL
);

CREATE TABLE cities (
    id          UUID NOT NULL DEFAULT gen_random_uuid(),
    region      TEXT NOT NULL,
    name        TEXT NOT NULL,
    -- Lower-case, accent-free form of `name`, computed by the application when the row is written, so that
    -- "new york", "NEW YORK" and "Montreal" find "New York" and "Montréal" without the unaccent extension
    -- (which CockroachDB lacks).
    search_name TEXT NOT NULL,
    state       TEXT NOT NULL,       -- state / province code, e.g. 'NY', 'QC'
    country     TEXT NOT NULL,       -- ISO 3166-1 alpha-2
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    -- IANA zone, e.g. 'America/New_York': showtimes are scheduled and filtered by the theater's local date
    -- (`start_time AT TIME ZONE time_zone`, which both PostgreSQL and CockroachDB evaluate).
    time_zone   TEXT NOT NULL,
    CONSTRAINT cities_pkey PRIMARY KEY (id),
    CONSTRAINT cities_region_fkey FOREIGN KEY (region) REFERENCES regions (region),
    CONSTRAINT cities_search_name_state_country_key UNIQUE (search_name, state, country),
    CONSTRAINT cities_lat_check CHECK (lat BETWEEN -90 AND 90),
    CONSTRAINT cities_lon_check CHECK (lon BETWEEN -180 AND 180)
);

CREATE TABLE zip_codes (
    country TEXT NOT NULL,
    zip     TEXT NOT NULL,
    city_id UUID NOT NULL,
    lat     DOUBLE PRECISION NOT NULL,   -- centroid of the ZIP code area
    lon     DOUBLE PRECISION NOT NULL,
    CONSTRAINT zip_codes_pkey PRIMARY KEY (country, zip),
    CONSTRAINT zip_codes_city_fkey FOREIGN KEY (city_id) REFERENCES cities (id)
);
-- A ZIP is looked up by its text alone in the API (country defaults to the only one with a match).
CREATE INDEX zip_codes_zip_idx ON zip_codes (zip);

CREATE TABLE movies (
    id           UUID NOT NULL DEFAULT gen_random_uuid(),
    title        TEXT NOT NULL,
    search_title TEXT NOT NULL,   -- lower-case, accent-free title for `q=` search (see cities.search_name)
    duration_min INT  NOT NULL,
    genre        TEXT NOT NULL,
    rating       TEXT NOT NULL,   -- MPA rating: G, PG, PG-13, R, NC-17, NR
    description  TEXT NOT NULL DEFAULT '',
    release_date DATE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT movies_pkey PRIMARY KEY (id),
    CONSTRAINT movies_duration_check CHECK (duration_min BETWEEN 1 AND 600),
    CONSTRAINT movies_rating_check CHECK (rating IN ('G', 'PG', 'PG-13', 'R', 'NC-17', 'NR'))
);
CREATE INDEX movies_genre_idx ON movies (genre);

-- Identity (global: a user books in any region) -------------------------------------------------------------------

CREATE TABLE users (
    id            UUID NOT NULL DEFAULT gen_random_uuid(),
    name          TEXT NOT NULL,
    -- Stored normalised (trimmed, lower-case) by the application; the unique key is the duplicate-email guard.
    email         TEXT NOT NULL,
    phone_number  TEXT NOT NULL,
    password_hash TEXT NOT NULL,   -- argon2id PHC string
    role          TEXT NOT NULL DEFAULT 'customer',
    -- Login throttling: consecutive failures and the time before which logins are refused.
    failed_logins INT NOT NULL DEFAULT 0,
    locked_until  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_role_check CHECK (role IN ('customer', 'admin'))
);

-- Theaters and their screens (regional) ---------------------------------------------------------------------------

CREATE TABLE theaters (
    region            TEXT NOT NULL,
    id                UUID NOT NULL DEFAULT gen_random_uuid(),
    city_id           UUID NOT NULL,
    name              TEXT NOT NULL,
    address           TEXT NOT NULL,
    zip               TEXT NOT NULL,
    lat               DOUBLE PRECISION NOT NULL,
    lon               DOUBLE PRECISION NOT NULL,
    number_of_screens INT NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT theaters_pkey PRIMARY KEY (region, id),
    CONSTRAINT theaters_region_fkey FOREIGN KEY (region) REFERENCES regions (region),
    CONSTRAINT theaters_city_fkey FOREIGN KEY (city_id) REFERENCES cities (id),
    CONSTRAINT theaters_lat_check CHECK (lat BETWEEN -90 AND 90),
    CONSTRAINT theaters_lon_check CHECK (lon BETWEEN -180 AND 180)
);
CREATE INDEX theaters_id_idx ON theaters (id);
CREATE INDEX theaters_city_idx ON theaters (city_id, name);
-- Proximity search: a latitude band is an index range on this, longitude is filtered within it.
CREATE INDEX theaters_lat_lon_idx ON theaters (lat, lon);

CREATE TABLE screens (
    region        TEXT NOT NULL,
    theater_id    UUID NOT NULL,
    screen_number INT  NOT NULL,
    name          TEXT NOT NULL,
    CONSTRAINT screens_pkey PRIMARY KEY (region, theater_id, screen_number),
    CONSTRAINT screens_theater_fkey FOREIGN KEY (region, theater_id) REFERENCES theaters (region, id),
    CONSTRAINT screens_number_check CHECK (screen_number > 0)
);

-- The seat layout belongs to the screen, not to the showtime. It is treated as immutable once a showtime exists
-- (the application caches it in-process).
CREATE TABLE seats (
    region        TEXT NOT NULL,
    theater_id    UUID NOT NULL,
    screen_number INT  NOT NULL,
    seat_label    TEXT NOT NULL,   -- row letter(s) + number, e.g. 'F12'
    row_label     TEXT NOT NULL,
    number        INT  NOT NULL,
    kind          TEXT NOT NULL DEFAULT 'standard',
    grid_x        INT  NOT NULL,   -- column on the drawn map (aisles leave gaps)
    grid_y        INT  NOT NULL,   -- row on the drawn map, 0 nearest the screen
    CONSTRAINT seats_pkey PRIMARY KEY (region, theater_id, screen_number, seat_label),
    CONSTRAINT seats_screen_fkey FOREIGN KEY (region, theater_id, screen_number)
        REFERENCES screens (region, theater_id, screen_number),
    CONSTRAINT seats_kind_check CHECK (kind IN ('standard', 'premium', 'accessible', 'companion')),
    CONSTRAINT seats_grid_key UNIQUE (region, theater_id, screen_number, grid_x, grid_y)
);

-- Showtimes (regional, partitioned) -------------------------------------------------------------------------------

CREATE TABLE showtimes (
    region           TEXT NOT NULL,
    id               UUID NOT NULL DEFAULT gen_random_uuid(),
    theater_id       UUID NOT NULL,
    screen_number    INT  NOT NULL,
    movie_id         UUID NOT NULL,
    start_time       TIMESTAMPTZ NOT NULL,
    end_time         TIMESTAMPTZ NOT NULL,
    -- Prices per seat kind, minor units. A hold copies them into the booking (I5: prices are locked at hold time).
    price_standard   BIGINT NOT NULL,
    price_premium    BIGINT NOT NULL,
    price_accessible BIGINT NOT NULL,
    price_companion  BIGINT NOT NULL,
    currency         TEXT NOT NULL DEFAULT 'USD',
    status           TEXT NOT NULL DEFAULT 'scheduled',   -- a canceled showtime takes no new holds
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
) PARTITION BY LIST (region);
CREATE INDEX showtimes_id_idx ON showtimes (id);
-- Overlap check on a screen and a theater's programme.
CREATE INDEX showtimes_screen_time_idx ON showtimes (region, theater_id, screen_number, start_time);
-- "Where is this movie playing": by movie, upcoming first.
CREATE INDEX showtimes_movie_time_idx ON showtimes (movie_id, start_time);

-- Bookings (regional, partitioned) --------------------------------------------------------------------------------

CREATE TABLE bookings (
    region          TEXT NOT NULL,
    id              UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id         UUID NOT NULL,
    showtime_id     UUID NOT NULL,
    -- reserved -> payment_pending -> paid; reserved|payment_pending -> canceled|expired (DESIGN.md §6).
    status          TEXT NOT NULL DEFAULT 'reserved',
    -- The seats with the price of each, locked at hold time: [{"label":"F12","kind":"standard","price":1250}].
    -- Kept on the booking because the claims in booking_seats are deleted when the booking ends.
    seats           JSONB  NOT NULL,
    seat_count      INT    NOT NULL,
    total_amount    BIGINT NOT NULL,
    currency        TEXT   NOT NULL,
    hold_expires_at TIMESTAMPTZ,           -- NULL once paid: the seats are then held for good
    payment_ref     TEXT,                  -- the provider's charge id once paid
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT bookings_pkey PRIMARY KEY (region, id),
    CONSTRAINT bookings_showtime_fkey FOREIGN KEY (region, showtime_id) REFERENCES showtimes (region, id),
    CONSTRAINT bookings_user_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT bookings_status_check
        CHECK (status IN ('reserved', 'payment_pending', 'paid', 'canceled', 'expired')),
    CONSTRAINT bookings_seat_count_check CHECK (seat_count > 0),
    CONSTRAINT bookings_total_check CHECK (total_amount >= 0)
) PARTITION BY LIST (region);
CREATE INDEX bookings_id_idx ON bookings (id);
CREATE INDEX bookings_user_idx ON bookings (user_id, created_at);
-- Per-user seat cap on a showtime, counted inside the hold transaction.
CREATE INDEX bookings_showtime_user_idx ON bookings (region, showtime_id, user_id);
-- Sweeper and reconciler scans: live bookings by expiry.
CREATE INDEX bookings_status_expiry_idx ON bookings (status, hold_expires_at);

-- A row is a claim on a seat; its primary key is the double-booking guard (invariant I1). An expired claim
-- (hold_expires_at < now()) blocks nothing and is taken over by the next hold's INSERT .. ON CONFLICT .. DO UPDATE
-- .. WHERE; a paid claim has hold_expires_at NULL and is never taken over.
CREATE TABLE booking_seats (
    region          TEXT NOT NULL,
    showtime_id     UUID NOT NULL,
    seat_label      TEXT NOT NULL,
    booking_id      UUID NOT NULL,
    hold_expires_at TIMESTAMPTZ,
    CONSTRAINT booking_seats_pkey PRIMARY KEY (region, showtime_id, seat_label),
    CONSTRAINT booking_seats_showtime_fkey FOREIGN KEY (region, showtime_id) REFERENCES showtimes (region, id),
    CONSTRAINT booking_seats_booking_fkey FOREIGN KEY (region, booking_id) REFERENCES bookings (region, id)
        ON DELETE CASCADE
) PARTITION BY LIST (region);
CREATE INDEX booking_seats_booking_idx ON booking_seats (region, booking_id);

-- Idempotency, outbox, payments (regional) ------------------------------------------------------------------------

CREATE TABLE idempotency_keys (
    region          TEXT NOT NULL,
    user_id         UUID NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,   -- hash of method + path + body: the same key with another request is a 422
    response_status INT,             -- NULL while the first request is still in flight (a 409 for a duplicate)
    response_body   JSONB,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (region, user_id, key),
    CONSTRAINT idempotency_keys_region_fkey FOREIGN KEY (region) REFERENCES regions (region),
    CONSTRAINT idempotency_keys_user_fkey FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT idempotency_keys_key_check CHECK (length(key) BETWEEN 1 AND 255)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- Events written in the same transaction as the change they announce, dispatched by the worker (at least once).
CREATE TABLE outbox (
    region          TEXT NOT NULL,
    id              UUID NOT NULL DEFAULT gen_random_uuid(),
    topic           TEXT NOT NULL,   -- e.g. 'booking.paid'
    payload         JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ,
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    CONSTRAINT outbox_pkey PRIMARY KEY (region, id),
    CONSTRAINT outbox_region_fkey FOREIGN KEY (region) REFERENCES regions (region)
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE sent_at IS NULL;

-- One row per charge attempt; the provider idempotency key is '{booking}:{attempt}' (DESIGN.md §6).
CREATE TABLE payments (
    region       TEXT NOT NULL,
    booking_id   UUID NOT NULL,
    attempt      INT  NOT NULL,
    provider     TEXT NOT NULL,
    provider_ref TEXT,
    amount       BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT payments_pkey PRIMARY KEY (region, booking_id, attempt),
    CONSTRAINT payments_booking_fkey FOREIGN KEY (region, booking_id) REFERENCES bookings (region, id),
    CONSTRAINT payments_status_check
        CHECK (status IN ('pending', 'succeeded', 'declined', 'failed', 'unknown', 'refunded')),
    CONSTRAINT payments_amount_check CHECK (amount >= 0)
);
CREATE INDEX payments_status_idx ON payments (status, updated_at);

-- Regions and their partitions ------------------------------------------------------------------------------------

INSERT INTO regions (region, display_name) VALUES
    ('us-east', 'US East'),
    ('us-central', 'US Central'),
    ('us-west', 'US West');

CREATE TABLE showtimes_us_east PARTITION OF showtimes FOR VALUES IN ('us-east');
CREATE TABLE showtimes_us_central PARTITION OF showtimes FOR VALUES IN ('us-central');
CREATE TABLE showtimes_us_west PARTITION OF showtimes FOR VALUES IN ('us-west');
CREATE TABLE showtimes_default PARTITION OF showtimes DEFAULT;

CREATE TABLE bookings_us_east PARTITION OF bookings FOR VALUES IN ('us-east');
CREATE TABLE bookings_us_central PARTITION OF bookings FOR VALUES IN ('us-central');
CREATE TABLE bookings_us_west PARTITION OF bookings FOR VALUES IN ('us-west');
CREATE TABLE bookings_default PARTITION OF bookings DEFAULT;

CREATE TABLE booking_seats_us_east PARTITION OF booking_seats FOR VALUES IN ('us-east');
CREATE TABLE booking_seats_us_central PARTITION OF booking_seats FOR VALUES IN ('us-central');
CREATE TABLE booking_seats_us_west PARTITION OF booking_seats FOR VALUES IN ('us-west');
CREATE TABLE booking_seats_default PARTITION OF booking_seats DEFAULT;
