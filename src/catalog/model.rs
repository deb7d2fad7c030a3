//! Pure types and rules of the catalog: no I/O.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The form under which names are stored for search and compared: Unicode-decomposed, combining marks (accents)
/// dropped, lower-cased, runs of white space folded to one space and trimmed.
///
/// `"  Montréal "`, `"MONTREAL"` and `"montreal"` all give `"montreal"`; the database stores this form next to the
/// display name (`cities.search_name`, `movies.search_title`) so a plain index serves accent- and case-insensitive
/// lookups on PostgreSQL and CockroachDB alike.
pub fn search_key(text: &str) -> String {
    let folded: String = text.nfd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_key_folds_case_accents_and_spaces() {
        for (input, expected) in [
            ("New York", "new york"),
            ("  NEW   york ", "new york"),
            ("Montréal", "montreal"),
            ("São Paulo", "sao paulo"),
            ("Zürich", "zurich"),
            ("", ""),
        ] {
            assert_eq!(search_key(input), expected, "input {input:?}");
        }
    }
}
