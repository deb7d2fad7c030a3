//! Every SQL statement of the application, one per file under `sql/queries/`, pulled in at compile time.
//!
//! A statement is referred to as `queries::users::INSERT`; its file's header comment states its purpose,
//! parameters and rows. [`ALL`] lists them so a test can prepare each one against a migrated database and a
//! portability test can check them against DESIGN.md §3.
//!
//! A piece that several statements share is written once, in `sql/fragments/<name>.sql`, and a statement names it
//! as `{{name}}` (outside comments). The text is put in at compile time ([`FRAGMENTS`]: without the fragment's
//! leading comment lines and trailing white space), so the constants, and what the database sees, are whole
//! statements; a name that `sql/fragments/` does not have fails the build. `loadtest/pgbench/service_hold.py` puts
//! them in the same way.

macro_rules! queries {
    ($( $area:ident { $( $name:ident => $file:literal ),* $(,)? } )*) => {
        $(
            #[doc = concat!("Statements of `sql/queries/", stringify!($area), "/`.")]
            pub mod $area {
                $(
                    #[doc = concat!("`sql/queries/", stringify!($area), "/", $file, "`")]
                    pub const $name: &str = {
                        const RAW: &str = include_str!(concat!(
                            env!("CARGO_MANIFEST_DIR"), "/sql/queries/", stringify!($area), "/", $file
                        ));
                        const TEXT: [u8; super::composed_len(RAW)] = super::composed(RAW);
                        super::utf8(&TEXT)
                    };
                )*
            }
        )*
        /// Every statement: (file path under `sql/queries/`, text).
        pub const ALL: &[(&str, &str)] = &[
            $( $( (concat!(stringify!($area), "/", $file), $area::$name), )* )*
        ];
    };
}

macro_rules! fragments {
    ($( $name:literal ),* $(,)?) => {
        /// The shared pieces of statements: (name, text of `sql/fragments/<name>.sql`).
        pub const FRAGMENTS: &[(&str, &str)] = &[
            $( ($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/sql/fragments/", $name, ".sql"))), )*
        ];
    };
}

fragments!["takeover", "live_booking", "seat_price", "seat_list"];

/// What a fragment puts in: its text without the leading comment lines and the trailing white space.
const fn fragment_body(text: &str) -> &[u8] {
    let bytes = text.as_bytes();
    let mut start = 0;
    while start + 1 < bytes.len() && bytes[start] == b'-' && bytes[start + 1] == b'-' {
        while start < bytes.len() && bytes[start] != b'\n' {
            start += 1;
        }
        start += 1;
    }
    let mut end = bytes.len();
    while end > start && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    bytes.split_at(end).0.split_at(start).1
}

/// The fragment named by `name`.
const fn fragment(name: &[u8]) -> &'static [u8] {
    let mut i = 0;
    while i < FRAGMENTS.len() {
        let known = FRAGMENTS[i].0.as_bytes();
        if known.len() == name.len() {
            let mut k = 0;
            while k < name.len() && known[k] == name[k] {
                k += 1;
            }
            if k == name.len() {
                return fragment_body(FRAGMENTS[i].1);
            }
        }
        i += 1;
    }
    panic!("a statement in sql/queries/ names a fragment that sql/fragments/ (db::queries::FRAGMENTS) does not have")
}

/// Writes `text` with each `{{name}}` replaced by its fragment into `out` (when it is long enough; an empty one
/// only counts) and returns the length.
const fn compose(text: &str, out: &mut [u8]) -> usize {
    let bytes = text.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < bytes.len() {
        if i + 1 < bytes.len() && bytes[i] == b'{' && bytes[i + 1] == b'{' {
            let mut end = i + 2;
            while end + 1 < bytes.len() && !(bytes[end] == b'}' && bytes[end + 1] == b'}') {
                end += 1;
            }
            assert!(end + 1 < bytes.len(), "a `{{` without its `}}` in sql/queries/");
            let piece = fragment(bytes.split_at(end).0.split_at(i + 2).1);
            let mut k = 0;
            while k < piece.len() {
                if n < out.len() {
                    out[n] = piece[k];
                }
                n += 1;
                k += 1;
            }
            i = end + 2;
        } else {
            if n < out.len() {
                out[n] = bytes[i];
            }
            n += 1;
            i += 1;
        }
    }
    n
}

/// The length of `text` composed.
const fn composed_len(text: &str) -> usize {
    compose(text, &mut [])
}

/// `text` composed, in an array of its length.
const fn composed<const N: usize>(text: &str) -> [u8; N] {
    let mut out = [0; N];
    compose(text, &mut out);
    out
}

/// The composed bytes as text (whole fragments put into UTF-8 text stay UTF-8).
const fn utf8(bytes: &'static [u8]) -> &'static str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => panic!("a composed statement is not UTF-8"),
    }
}

queries! {
    users {
        INSERT => "insert.sql",
        FIND_BY_EMAIL => "find_by_email.sql",
        FIND_BY_ID => "find_by_id.sql",
        UPSERT_ROLE => "upsert_role.sql",
    }
    seed {
        INSERT_CITIES => "insert_cities.sql",
        CITY_IDS => "city_ids.sql",
        INSERT_ZIP_CODES => "insert_zip_codes.sql",
        INSERT_MOVIES => "insert_movies.sql",
        INSERT_THEATERS => "insert_theaters.sql",
        INSERT_SCREENS => "insert_screens.sql",
        INSERT_SEATS => "insert_seats.sql",
        INSERT_SHOWTIMES => "insert_showtimes.sql",
        ZONE_CALENDAR => "zone_calendar.sql",
        NOW => "now.sql",
        EXISTING_THEATERS => "existing_theaters.sql",
        COPY_THEATERS => "copy_theaters.sql",
        COPY_SCREENS => "copy_screens.sql",
        COPY_SEATS => "copy_seats.sql",
        COPY_SHOWTIMES => "copy_showtimes.sql",
    }
    tickets {
        ISSUE => "issue.sql",
        OF_BOOKING => "of_booking.sql",
        OF_SHOWTIME => "of_showtime.sql",
        DOOR_VIEW => "door_view.sql",
        ADMIT => "admit.sql",
    }
    maintenance {
        PURGE_IDEMPOTENCY_KEYS => "purge_idempotency_keys.sql",
    }
    cancellation {
        START => "start.sql",
        RELEASE_HOLDS => "release_holds.sql",
        PAID => "paid.sql",
        REFUNDED => "refunded.sql",
        COUNT => "count.sql",
        PROGRESS => "progress.sql",
        FINISH => "finish.sql",
        UNFINISHED => "unfinished.sql",
    }
    catalog {
        CANCEL_SHOWTIME => "cancel_showtime.sql",
        CITIES_BY_NAME => "cities_by_name.sql",
        CITIES_BY_PREFIX => "cities_by_prefix.sql",
        CITY_REGION => "city_region.sql",
        DELETE_SCREEN => "delete_screen.sql",
        DELETE_SCREEN_SEATS => "delete_screen_seats.sql",
        INSERT_MOVIE => "insert_movie.sql",
        INSERT_SCREEN => "insert_screen.sql",
        INSERT_SEATS => "insert_seats.sql",
        INSERT_SHOWTIME => "insert_showtime.sql",
        INSERT_THEATER => "insert_theater.sql",
        LIVE_CLAIMS => "live_claims.sql",
        MOVIE_BY_ID => "movie_by_id.sql",
        MOVIE_DURATION => "movie_duration.sql",
        MOVIE_SHOWTIMES_AT => "movie_showtimes_at.sql",
        MOVIE_THEATERS_BY_NAME => "movie_theaters_by_name.sql",
        MOVIE_THEATERS_NEAR => "movie_theaters_near.sql",
        MOVIES_SEARCH => "movies_search.sql",
        RENAME_SCREEN => "rename_screen.sql",
        SCREEN_LAYOUT => "screen_layout.sql",
        SCREEN_OF_THEATER => "screen_of_theater.sql",
        SCREENS_IN_USE => "screens_in_use.sql",
        SHOWTIME_BY_ID => "showtime_by_id.sql",
        SHOWTIME_KEY => "showtime_key.sql",
        SHOWTIME_OVERLAPS => "showtime_overlaps.sql",
        THEATER_BY_ID => "theater_by_id.sql",
        THEATER_KEY => "theater_key.sql",
        THEATER_MOVIES => "theater_movies.sql",
        THEATER_SCREENS => "theater_screens.sql",
        THEATER_SHOWTIMES => "theater_showtimes.sql",
        THEATERS_IN_CITIES => "theaters_in_cities.sql",
        THEATERS_NEAR => "theaters_near.sql",
        UPDATE_MOVIE => "update_movie.sql",
        UPDATE_SHOWTIME => "update_showtime.sql",
        UPDATE_THEATER => "update_theater.sql",
        ZIP_CENTROID => "zip_centroid.sql",
    }
    booking {
        SHOWTIME_REGION => "showtime_region.sql",
        SHOWTIME_STATE => "showtime_state.sql",
        BOOKING_REGION => "booking_region.sql",
        HOLD_REFUSAL => "hold_refusal.sql",
        LIVE_CLAIMS_OF => "live_claims_of.sql",
        EXTEND_STATE => "extend_state.sql",
        EXTEND_HOLD => "extend_hold.sql",
        HOLD => "hold.sql",
        HOLD_BATCH => "hold_batch.sql",
        CLAIM_SEATS => "claim_seats.sql",
        EXPIRE_TAKEN_OVER => "expire_taken_over.sql",
        FIND => "find.sql",
        FIND_BY_ID => "find_by_id.sql",
        LIST_BY_USER => "list_by_user.sql",
        SET_STATUS => "set_status.sql",
        START_PAYMENT => "start_payment.sql",
        CANCEL_HOLD => "cancel_hold.sql",
        REVERT_PAYMENT => "revert_payment.sql",
        SET_CLAIMS_EXPIRY => "set_claims_expiry.sql",
        DELETE_CLAIMS => "delete_claims.sql",
        INSERT_OUTBOX => "insert_outbox.sql",
        IDEMPOTENCY_CLAIM => "idempotency_claim.sql",
        IDEMPOTENCY_FIND => "idempotency_find.sql",
        IDEMPOTENCY_COMPLETE => "idempotency_complete.sql",
        IDEMPOTENCY_RELEASE => "idempotency_release.sql",
    }
    payment {
        INSERT => "insert.sql",
        RESOLVE => "resolve.sql",
        FIND_UNRESOLVED => "find_unresolved.sql",
        FIND_SUCCEEDED => "find_succeeded.sql",
    }
    audit {
        DOUBLE_BOOKINGS => "double_bookings.sql",
    }
    outbox {
        CLAIM => "claim.sql",
        MARK_FAILED => "mark_failed.sql",
        MAIL_CONTEXT => "mail_context.sql",
        BACKLOG => "backlog.sql",
        MARK_SENT_MANY => "mark_sent_many.sql",
    }
    sweep {
        LAPSED => "lapsed.sql",
        EXPIRE => "expire.sql",
        BACKLOG => "backlog.sql",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_file_is_listed() {
        let root = format!("{}/sql/queries", env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for area in std::fs::read_dir(&root).expect("sql/queries exists") {
            let area = area.expect("readable").path();
            for file in std::fs::read_dir(&area).expect("readable") {
                let path = file.expect("readable").path();
                let rel = path.strip_prefix(&root).expect("under root").to_string_lossy().into_owned();
                files.push(rel);
            }
        }
        files.sort();
        let mut listed: Vec<_> = ALL.iter().map(|(path, _)| (*path).to_owned()).collect();
        listed.sort();
        assert_eq!(files, listed);
    }

    #[test]
    fn fragments_are_put_in_and_every_fragment_file_is_listed_and_used() {
        let root = format!("{}/sql/fragments", env!("CARGO_MANIFEST_DIR"));
        let mut files: Vec<String> = std::fs::read_dir(&root)
            .expect("sql/fragments exists")
            .map(|f| f.expect("readable").file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        let mut listed: Vec<String> = FRAGMENTS.iter().map(|(name, _)| format!("{name}.sql")).collect();
        listed.sort();
        assert_eq!(files, listed);
        for (path, sql) in ALL {
            assert!(!sql.contains("{{") && !sql.contains("}}"), "{path}: a fragment was not put in");
        }
        for (name, text) in FRAGMENTS {
            let body = std::str::from_utf8(fragment_body(text)).expect("UTF-8");
            assert!(!body.is_empty() && !body.starts_with("--") && body.trim_end() == body, "{name}: {body:?}");
            assert!(ALL.iter().any(|(_, sql)| sql.contains(body)), "{name} is used by no statement");
        }
        // The takeover clause is written once and is in each statement that claims seats.
        let takeover = std::str::from_utf8(fragment(b"takeover")).expect("UTF-8");
        for sql in [booking::HOLD, booking::HOLD_BATCH, booking::CLAIM_SEATS] {
            assert!(sql.contains(&format!("{takeover}\n")), "{sql}");
        }
        let live = std::str::from_utf8(fragment(b"live_booking")).expect("UTF-8");
        assert!(booking::HOLD_REFUSAL.contains(&format!("AND {live}")), "{}", booking::HOLD_REFUSAL);
    }

    #[test]
    fn composing_puts_each_named_fragment_in_place() {
        let text = "x = 1 AND {{live_booking}} AND y\n";
        let mut out = [0u8; 256];
        let n = compose(text, &mut out);
        assert_eq!(n, composed_len(text));
        let live = std::str::from_utf8(fragment(b"live_booking")).expect("UTF-8");
        assert_eq!(std::str::from_utf8(&out[..n]).expect("UTF-8"), format!("x = 1 AND {live} AND y\n"));
        assert_eq!(
            live,
            "(b.status IN ('payment_pending', 'paid') OR (b.status = 'reserved' AND b.hold_expires_at > now()))"
        );
        assert_eq!(compose("no fragment", &mut []), 11);
    }

    /// Client input reaches SQL only as bound parameters: no statement text in `src/` is assembled at run time.
    /// Every database call's statement argument is checked for `format!`, and no `format!` literal may look like
    /// SQL. (The needles are built with `concat!` so that this test does not find itself.)
    #[test]
    fn no_statement_is_built_from_strings() {
        fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("readable").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    rust_files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        rust_files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let calls = [
            concat!(".exe", "cute("),
            concat!(".que", "ry("),
            concat!(".que", "ry_one("),
            concat!(".que", "ry_opt("),
            concat!(".que", "ry_raw("),
            concat!(".batch_exe", "cute("),
            concat!(".simple_que", "ry("),
            concat!(".prep", "are("),
            concat!(".prep", "are_cached("),
            concat!(".cop", "y_in("),
        ];
        let sql_words = ["SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "DROP ", "ALTER ", " WHERE ", "SET "];
        let mut offenders = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable");
            for call in calls {
                for (at, _) in text.match_indices(call) {
                    let argument: String =
                        text[at + call.len()..].chars().take_while(|c| *c != ',' && *c != ';').collect();
                    if argument.contains(concat!("form", "at!")) || argument.contains(".push_str") {
                        offenders.push(format!("{}: {call}{}", file.display(), argument.trim()));
                    }
                }
            }
            for (at, _) in text.match_indices(concat!("form", "at!(")) {
                let literal: String = text[at..].chars().take_while(|c| *c != ')').collect();
                if sql_words.iter().any(|w| literal.contains(w)) {
                    offenders.push(format!("{}: {literal}", file.display()));
                }
            }
        }
        assert!(offenders.is_empty(), "SQL assembled at run time:\n{}", offenders.join("\n"));
    }

    #[test]
    fn every_query_has_a_header_comment() {
        for (path, sql) in ALL {
            assert!(sql.starts_with("--"), "{path} lacks its header comment");
        }
    }
}
