//! Files embedded in the binary (the web client, the API documentation page), served the way a static file server
//! would: a strong `ETag` with `304 Not Modified`, and gzip for a client that accepts it. Each file is compressed
//! once, on its first request, and kept for the life of the process (the largest, Swagger UI's bundle, takes a few
//! tens of milliseconds once); a file that gzip does not make smaller is always sent as it is.

use std::io::Write;
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// One embedded file.
pub struct Embedded {
    /// Its name in the URL (`/app/{name}`).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub media_type: &'static str,
    /// Its bytes, as the repository has them.
    pub body: &'static [u8],
    variants: OnceLock<Variants>,
}

/// The representations of one file: as it is, and gzip-compressed when that is smaller. Each has its own strong
/// `ETag` (RFC 9110 §8.8.3: two encodings of a resource are two representations).
struct Variants {
    identity_tag: HeaderValue,
    gzip: Option<(Bytes, HeaderValue)>,
}

impl Embedded {
    /// A file; nothing is computed until its first request.
    pub const fn new(name: &'static str, media_type: &'static str, body: &'static [u8]) -> Self {
        Self { name, media_type, body, variants: OnceLock::new() }
    }

    /// The file for a request with these headers: 304 when `If-None-Match` names the representation that would be
    /// sent, else 200 with it. `cache_control` is the caller's policy (`no-cache` revalidates every load).
    pub fn respond(&self, request: &HeaderMap, cache_control: &'static str) -> Response {
        let variants = self.variants.get_or_init(|| Variants::of(self.body));
        let (body, tag, gzip) = match (&variants.gzip, accepts_gzip(request)) {
            (Some((compressed, tag)), true) => (compressed.clone(), tag, true),
            _ => (Bytes::from_static(self.body), &variants.identity_tag, false),
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache_control));
        headers.insert(header::ETAG, tag.clone());
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if if_none_match(request, tag) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.media_type));
        if gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        (headers, body).into_response()
    }
}

impl Variants {
    fn of(body: &[u8]) -> Self {
        let hash = content_hash(body);
        let tag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{hash:016x}{suffix}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
        };
        let gzip = gzip(body).filter(|compressed| compressed.len() < body.len());
        Self { identity_tag: tag(""), gzip: gzip.map(|compressed| (Bytes::from(compressed), tag("-gzip"))) }
    }
}

/// SipHash with fixed keys: deterministic across processes of one build, which is all an `ETag` needs.
fn content_hash(body: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish()
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3), flate2::Compression::best());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

/// Whether `Accept-Encoding` allows gzip (RFC 9110 §12.5.3): an explicit `gzip` entry decides by its weight; without
/// one, `*` does; `q=0` means "not acceptable".
fn accepts_gzip(request: &HeaderMap) -> bool {
    let mut explicit = None;
    let mut wildcard = None;
    for item in
        request.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','))
    {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim();
        let acceptable = parts.all(|param| {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            !name.trim().eq_ignore_ascii_case("q") || value.trim().parse::<f32>().is_ok_and(|q| q > 0.0)
        });
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            explicit = Some(acceptable);
        } else if coding == "*" {
            wildcard = Some(acceptable);
        }
    }
    explicit.or(wildcard).unwrap_or(false)
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn if_none_match(request: &HeaderMap, tag: &HeaderValue) -> bool {
    let tag = tag.to_str().unwrap_or_default();
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == tag || candidate == "*")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    static TEXT: Embedded = Embedded::new(
        "t.js",
        "text/javascript",
        b"let answer = 42; // repeated repeated repeated repeated repeated repeated",
    );
    static TINY: Embedded = Embedded::new("t.txt", "text/plain", b"x");

    fn request(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (name.clone(), HeaderValue::from_str(value).expect("header"))).collect()
    }

    async fn body(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body").to_vec()
    }

    #[test]
    fn accept_encoding_is_read_as_rfc_9110_says() {
        let gzip = |value: &str| accepts_gzip(&request(&[(header::ACCEPT_ENCODING, value)]));
        assert!(gzip("gzip, deflate, br, zstd"));
        assert!(gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(gzip("*"));
        assert!(!gzip("br"));
        assert!(!gzip("gzip;q=0"));
        assert!(!gzip("gzip;q=0.0, *"), "an explicit refusal beats the wildcard");
        assert!(!gzip("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn gzip_when_accepted_with_its_own_etag_and_the_same_bytes() {
        let plain = TEXT.respond(&HeaderMap::new(), "no-cache");
        assert_eq!(plain.headers().get(header::CONTENT_ENCODING), None);
        let plain_tag = plain.headers()[header::ETAG].clone();
        assert_eq!(body(plain).await, TEXT.body);

        let compressed = TEXT.respond(&request(&[(header::ACCEPT_ENCODING, "gzip")]), "no-cache");
        assert_eq!(compressed.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(compressed.headers()[header::VARY], "accept-encoding");
        let gzip_tag = compressed.headers()[header::ETAG].clone();
        assert_ne!(gzip_tag, plain_tag);
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&body(compressed).await[..]).read_to_end(&mut unpacked).expect("gzip");
        assert_eq!(unpacked, TEXT.body);

        // Each representation revalidates against its own tag.
        let revalidate = |encoding: &str, tag: &HeaderValue| {
            TEXT.respond(
                &request(&[(header::ACCEPT_ENCODING, encoding), (header::IF_NONE_MATCH, tag.to_str().expect("tag"))]),
                "no-cache",
            )
            .status()
        };
        assert_eq!(revalidate("gzip", &gzip_tag), StatusCode::NOT_MODIFIED);
        assert_eq!(revalidate("identity", &plain_tag), StatusCode::NOT_MODIFIED);
        assert_eq!(revalidate("identity", &gzip_tag), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_file_that_gzip_does_not_shrink_is_sent_as_it_is() {
        let response = TINY.respond(&request(&[(header::ACCEPT_ENCODING, "gzip")]), "no-cache");
        assert_eq!(response.headers().get(header::CONTENT_ENCODING), None);
        assert_eq!(body(response).await, b"x");
    }
}
