//! A ticket as people carry it: its token as a QR code (SVG for the web client, PNG for mail, where SVG is not
//! shown), and the showtime as an iCalendar entry (RFC 5545) for the booking mail.
use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};
use time::OffsetDateTime;
use time::macros::format_description;

/// Pixels per QR module in the PNG, and quiet-zone modules around the code (the standard asks for 4).
const PNG_MODULE: usize = 6;
const QUIET_ZONE: usize = 4;

fn code(token: &str) -> Result<QrCode, qrcode::types::QrError> {
    // Medium error correction: a scratched phone screen or a crumpled print still reads; a ~140-character token
    // still fits a version-7 code.
    QrCode::with_error_correction_level(token.as_bytes(), EcLevel::M)
}

/// The QR code of `token` as an SVG document.
///
/// # Errors
/// A token too long for a QR code (tokens are about 140 characters).
pub fn qr_svg(token: &str) -> anyhow::Result<String> {
    Ok(code(token)?.render::<svg::Color<'_>>().min_dimensions(200, 200).build())
}

/// The QR code of `token` as a grey-scale PNG (black modules on white, with a quiet zone).
///
/// # Errors
/// A token too long for a QR code; an encoder failure.
pub fn qr_png(token: &str) -> anyhow::Result<Vec<u8>> {
    let code = code(token)?;
    let modules = code.width();
    let colors = code.into_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_MODULE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
            for y in my * PNG_MODULE..(my + 1) * PNG_MODULE {
                pixels[y * side + mx * PNG_MODULE..y * side + (mx + 1) * PNG_MODULE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let side32 = u32::try_from(side)?;
    let mut encoder = png::Encoder::new(&mut out, side32, side32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

/// What a calendar entry of a showtime says.
#[derive(Debug, Clone)]
pub struct CalendarEvent<'a> {
    /// A stable unique id (the booking's): a second mail of the same booking updates the entry.
    pub uid: &'a str,
    /// The title, e.g. the movie.
    pub summary: &'a str,
    /// The theater's name and address.
    pub location: &'a str,
    /// Free text: seats, booking reference.
    pub description: &'a str,
    /// Start and end.
    pub start: OffsetDateTime,
    /// End.
    pub end: OffsetDateTime,
    /// When the entry was made.
    pub stamp: OffsetDateTime,
}

/// The `.ics` document of one event. Times are UTC (`...Z`), which every calendar shows in the reader's own time
/// zone: the theater's local start time, without shipping a VTIMEZONE definition that could go stale.
pub fn ics(event: &CalendarEvent<'_>) -> String {
    let utc = |t: OffsetDateTime| {
        t.to_offset(time::UtcOffset::UTC)
            .format(format_description!("[year][month][day]T[hour][minute][second]Z"))
            .unwrap_or_default()
    };
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//boxoffice//tickets//EN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", text(event.uid)),
        format!("DTSTAMP:{}", utc(event.stamp)),
        format!("DTSTART:{}", utc(event.start)),
        format!("DTEND:{}", utc(event.end)),
        format!("SUMMARY:{}", text(event.summary)),
        format!("LOCATION:{}", text(event.location)),
        format!("DESCRIPTION:{}", text(event.description)),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    lines.iter().map(|l| fold(l)).collect::<Vec<_>>().join("")
}

/// RFC 5545 TEXT escaping: backslash, semicolon, comma and newlines.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A content line folded at 75 octets (never inside a UTF-8 character), ending in CRLF.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_within_75_octets_and_text_is_escaped() {
        let folded = fold(&format!("DESCRIPTION:{}", "é".repeat(60)));
        assert!(folded.split("\r\n").all(|l| l.len() <= 75), "{folded}");
        assert_eq!(text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }

    #[test]
    fn a_png_is_made_for_a_ticket_sized_token() {
        let png = qr_png(&"A".repeat(150)).expect("png");
        assert_eq!(&png[1..4], b"PNG");
    }
}
