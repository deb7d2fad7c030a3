//! The DML in `sql/queries/` stays inside the subset PostgreSQL and CockroachDB share (DESIGN.md §3).
//!
//! No CockroachDB runs on our machines, so this reads the statements instead: each one is tokenized (comments,
//! string literals and quoted identifiers set aside, so `'NOTIFY'` or `-- UPSERT` do not count), and its words are
//! matched against the constructs §3 rules out. A second test shows the checker catching each form, and leaving
//! the allowed look-alikes alone.

/// A construct outside the common subset, how to spot it in the words of a statement, and what to do instead.
struct Rule {
    construct: &'static str,
    instead: &'static str,
    found: fn(&[String]) -> bool,
}

fn has(words: &[String], word: &str) -> bool {
    words.iter().any(|w| w == word)
}

fn has_sequence(words: &[String], sequence: &[&str]) -> bool {
    words.windows(sequence.len()).any(|window| window.iter().zip(sequence).all(|(w, s)| w == s))
}

fn has_prefix(words: &[String], prefix: &str) -> bool {
    words.iter().any(|w| w.starts_with(prefix))
}

const RULES: &[Rule] = &[
    Rule {
        construct: "advisory locks",
        instead: "they are no-ops on CockroachDB: guard with a key and ON CONFLICT, or a row lock",
        found: |w| has_prefix(w, "PG_ADVISORY_") || has_prefix(w, "PG_TRY_ADVISORY_"),
    },
    Rule {
        construct: "LISTEN/NOTIFY",
        instead: "CockroachDB has none: write to the outbox and poll it (or a changefeed)",
        found: |w| has(w, "LISTEN") || has(w, "UNLISTEN") || has(w, "NOTIFY") || has(w, "PG_NOTIFY"),
    },
    Rule {
        construct: "UPSERT",
        instead: "CockroachDB only: INSERT .. ON CONFLICT (columns) DO UPDATE",
        found: |w| has(w, "UPSERT"),
    },
    Rule {
        construct: "sequences",
        instead: "keys are UUIDs from gen_random_uuid(); sequences are a hot spot on CockroachDB",
        found: |w| {
            [
                "NEXTVAL",
                "CURRVAL",
                "SETVAL",
                "LASTVAL",
                "SEQUENCE",
                "SERIAL",
                "SMALLSERIAL",
                "BIGSERIAL",
                "SERIAL4",
                "SERIAL8",
            ]
            .iter()
            .any(|s| has(w, s))
                || has_sequence(w, &["AS", "IDENTITY"])
        },
    },
    Rule {
        construct: "AS OF SYSTEM TIME",
        instead: "stale reads go through the read pool, whose sessions turn follower reads on",
        found: |w| has_sequence(w, &["AS", "OF", "SYSTEM", "TIME"]) || has(w, "FOLLOWER_READ_TIMESTAMP"),
    },
    Rule {
        construct: "DEFERRABLE constraints",
        instead: "CockroachDB checks constraints per statement; order the writes instead",
        found: |w| has(w, "DEFERRABLE") || has_sequence(w, &["SET", "CONSTRAINTS"]),
    },
    Rule {
        construct: "EXCLUDE constraints",
        instead: "CockroachDB has none; use a unique key (booking_seats_pkey is ours)",
        found: |w| has(w, "EXCLUDE"),
    },
    Rule {
        construct: "domains",
        instead: "use the base type and a named CHECK constraint",
        found: |w| has(w, "DOMAIN"),
    },
    Rule {
        construct: "triggers",
        instead: "do the work in the same transaction, explicitly",
        found: |w| has(w, "TRIGGER"),
    },
    Rule {
        construct: "table locks",
        instead: "SELECT .. FOR UPDATE on the rows concerned",
        found: |w| has_sequence(w, &["LOCK", "TABLE"]) || w.first().is_some_and(|first| first == "LOCK"),
    },
    Rule {
        construct: "system columns",
        instead: "PostgreSQL's ctid/xmin/xmax do not exist on CockroachDB",
        found: |w| has(w, "CTID") || has(w, "XMIN") || has(w, "XMAX"),
    },
    Rule {
        construct: "ON CONFLICT ON CONSTRAINT",
        instead: "name the arbiter's columns: ON CONFLICT (a, b), a single arbiter",
        found: |w| has_sequence(w, &["ON", "CONFLICT", "ON", "CONSTRAINT"]),
    },
    Rule {
        construct: "DDL",
        instead: "schema changes belong in sql/migrations/<dialect>/, which differ per dialect",
        found: |w| {
            w.first().is_some_and(|first| ["CREATE", "ALTER", "DROP", "TRUNCATE", "COMMENT"].contains(&first.as_str()))
        },
    },
];

/// The upper-cased words of `sql`, without comments, string literals (`'..'`, `E'..'`, `$$..$$`) and quoted
/// identifiers, which become placeholders so that their contents never match a rule.
fn words(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    let mut i = 0;
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(word.to_uppercase());
            word.clear();
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '-' && next == Some('-') {
            flush(&mut word, &mut out);
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            flush(&mut word, &mut out);
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '\'' || c == '"' {
            // A letter glued to a quote (E'..') is a string prefix, not a word; in an E'..' string a backslash
            // escapes the next character.
            let escapes = c == '\'' && word.eq_ignore_ascii_case("e");
            if escapes {
                word.clear();
            }
            flush(&mut word, &mut out);
            i += 1;
            while i < chars.len() {
                let escaped = escapes && chars[i] == '\\';
                let doubled = chars[i] == c && chars.get(i + 1) == Some(&c);
                if escaped || doubled {
                    i += 2;
                } else if chars[i] == c {
                    break;
                } else {
                    i += 1;
                }
            }
            out.push(if c == '\'' { "'…'".to_owned() } else { "\"…\"".to_owned() });
            i += 1;
        } else if c == '$' && next == Some('$') {
            flush(&mut word, &mut out);
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '$' && chars[i + 1] == '$') {
                i += 1;
            }
            out.push("'…'".to_owned());
            i += 2;
        } else if c.is_alphanumeric() || c == '_' {
            word.push(c);
            i += 1;
        } else {
            flush(&mut word, &mut out);
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Every rule `sql` breaks, as messages naming `path`.
fn violations(path: &str, sql: &str) -> Vec<String> {
    let words = words(sql);
    RULES
        .iter()
        .filter(|rule| (rule.found)(&words))
        .map(|rule| format!("sql/queries/{path}: {} is not portable to CockroachDB ({})", rule.construct, rule.instead))
        .collect()
}

#[test]
fn every_statement_in_sql_queries_uses_only_the_portable_subset() {
    assert!(!boxoffice::db::queries::ALL.is_empty());
    let problems: Vec<String> =
        boxoffice::db::queries::ALL.iter().flat_map(|(path, sql)| violations(path, sql)).collect();
    assert!(problems.is_empty(), "DESIGN.md §3, the common subset:\n{}", problems.join("\n"));
}

#[test]
fn the_checker_catches_every_forbidden_form_and_spares_the_allowed_ones() {
    let forbidden = [
        ("SELECT pg_advisory_xact_lock(42)", "advisory locks"),
        ("SELECT pg_try_advisory_lock($1)", "advisory locks"),
        ("LISTEN bookings", "LISTEN/NOTIFY"),
        ("NOTIFY bookings, 'paid'", "LISTEN/NOTIFY"),
        ("SELECT pg_notify('bookings', $1)", "LISTEN/NOTIFY"),
        ("UPSERT INTO users (id, name) VALUES ($1, $2)", "UPSERT"),
        ("SELECT nextval('booking_number')", "sequences"),
        ("INSERT INTO t (n) VALUES (currval('s'))", "sequences"),
        ("SELECT id FROM movies AS OF SYSTEM TIME '-5s'", "AS OF SYSTEM TIME"),
        ("SELECT id FROM movies AS OF SYSTEM TIME follower_read_timestamp()", "AS OF SYSTEM TIME"),
        ("SET CONSTRAINTS ALL DEFERRED", "DEFERRABLE constraints"),
        ("CREATE DOMAIN money AS BIGINT", "domains"),
        ("CREATE TRIGGER t AFTER INSERT ON bookings EXECUTE FUNCTION f()", "triggers"),
        ("LOCK TABLE booking_seats IN EXCLUSIVE MODE", "table locks"),
        ("DELETE FROM bookings WHERE ctid = $1", "system columns"),
        (
            "INSERT INTO users (email) VALUES ($1) ON CONFLICT ON CONSTRAINT users_email_key DO NOTHING",
            "ON CONFLICT ON CONSTRAINT",
        ),
        ("CREATE TABLE t (id SERIAL PRIMARY KEY)", "sequences"),
        ("ALTER TABLE bookings ADD CONSTRAINT x EXCLUDE USING gist (r WITH &&)", "EXCLUDE constraints"),
        ("ALTER TABLE bookings ADD COLUMN note TEXT", "DDL"),
        ("-- header\nDROP TABLE bookings", "DDL"),
    ];
    for (sql, construct) in forbidden {
        let found = violations("example.sql", sql);
        assert!(found.iter().any(|m| m.contains(construct)), "{sql:?} should be refused as {construct}, got {found:?}");
        assert!(found.iter().all(|m| m.starts_with("sql/queries/example.sql: ")), "{found:?}");
    }
    let allowed = [
        "BEGIN ISOLATION LEVEL SERIALIZABLE",
        "SELECT id FROM bookings WHERE status = 'reserved' AND hold_expires_at < now() \
         ORDER BY hold_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        "INSERT INTO booking_seats (region, showtime_id, seat_label, booking_id) SELECT $1, $2, s, $3 \
         FROM unnest($4::TEXT[]) AS s ON CONFLICT (region, showtime_id, seat_label) DO UPDATE \
         SET booking_id = excluded.booking_id WHERE booking_seats.hold_expires_at < now() RETURNING seat_label",
        "INSERT INTO outbox (region, id, topic, payload) VALUES ($1, gen_random_uuid(), 'booking.paid', $2)",
        "SELECT id FROM theaters WHERE id = ANY($1)",
        // Words inside literals, quoted identifiers and comments are data, not SQL.
        "SELECT 'NOTIFY me; LISTEN; UPSERT; AS OF SYSTEM TIME' AS text -- UPSERT, nextval()",
        "SELECT \"listen\", \"sequence\" FROM t /* LOCK TABLE t */",
        "SELECT E'it''s a trigger' AS s, e'a \\' NOTIFY' AS t, $$DOMAIN$$ AS d",
        // A column merely named like a keyword's cousin.
        "SELECT excluded_seats, sequence_number_text FROM v",
    ];
    for sql in allowed {
        assert_eq!(violations("example.sql", sql), Vec::<String>::new(), "{sql:?} is portable");
    }
}
