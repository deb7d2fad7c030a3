//! Every SQL statement of the application, one per file under `sql/queries/`, pulled in at compile time.
//!
//! A statement is referred to as `queries::users::INSERT`; its file's header comment states its purpose,
//! parameters and rows. [`ALL`] lists them so a test can prepare each one against a migrated database and a
//! portability test can check them against DESIGN.md §3.

macro_rules! queries {
    ($( $area:ident { $( $name:ident => $file:literal ),* $(,)? } )*) => {
        $(
            #[doc = concat!("Statements of `sql/queries/", stringify!($area), "/`.")]
            pub mod $area {
                $(
                    #[doc = concat!("`sql/queries/", stringify!($area), "/", $file, "`")]
                    pub const $name: &str = include_str!(concat!(
                        env!("CARGO_MANIFEST_DIR"), "/sql/queries/", stringify!($area), "/", $file
                    ));
                )*
            }
        )*
        /// Every statement: (file path under `sql/queries/`, text).
        pub const ALL: &[(&str, &str)] = &[
            $( $( (concat!(stringify!($area), "/", $file), $area::$name), )* )*
        ];
    };
}

queries! {
    users {
        INSERT => "insert.sql",
        FIND_BY_EMAIL => "find_by_email.sql",
        FIND_BY_ID => "find_by_id.sql",
        UPSERT_ADMIN => "upsert_admin.sql",
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
