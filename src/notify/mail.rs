//! What a booking mail says: pure functions from an outbox event and its context to a subject, a plain-text body and
//! (for a confirmation) the tickets as QR-code PNGs plus the showtime as an `.ics` calendar entry, so that they are
//! tested without a database or a mail server.

use serde::Deserialize;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use crate::tickets::render::{self, CalendarEvent};
use crate::tickets::token::{TicketClaims, TicketKeys};

/// The outbox topic of a paid booking: the confirmation with the tickets.
pub const BOOKING_PAID: &str = "booking.paid";
/// The outbox topic of a canceled booking (refunded first when it was paid).
pub const BOOKING_CANCELED: &str = "booking.canceled";

/// A booking event's payload, as `booking::service` writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingEvent {
    /// The booking.
    pub booking_id: Uuid,
    /// Its owner: the recipient.
    pub user_id: Uuid,
    /// The showtime.
    pub showtime_id: Uuid,
    /// Its seats with their prices.
    pub seats: Vec<EventSeat>,
    /// The total in minor units.
    pub total: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The provider's charge, when the booking was paid.
    #[serde(default)]
    pub payment_ref: Option<String>,
    /// Why a booking was canceled when its owner did not ask: `showtime_canceled` (the cancellation of a showtime,
    /// `booking::service::showtime_cancel`).
    #[serde(default)]
    pub reason: Option<String>,
}

/// One seat of a booking event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventSeat {
    /// Its label, e.g. `F12`.
    pub label: String,
    /// Its kind (`standard`, `premium`, ...).
    pub kind: String,
    /// Its price in minor units.
    pub price: i64,
}

/// What the database adds to an event (`sql/queries/outbox/mail_context.sql`).
#[derive(Debug, Clone)]
pub struct MailContext {
    /// The recipient's address.
    pub email: String,
    /// The recipient's name.
    pub name: String,
    /// The movie's title.
    pub title: String,
    /// The theater's name.
    pub theater: String,
    /// The theater's address.
    pub address: String,
    /// The screen.
    pub screen_number: i32,
    /// The start, in the theater's local time.
    pub local_start: PrimitiveDateTime,
    /// The theater's IANA zone.
    pub time_zone: String,
    /// The start (an instant: the calendar entry's).
    pub start: OffsetDateTime,
    /// The end.
    pub end: OffsetDateTime,
    /// The theater's city.
    pub city: String,
    /// The theater's ZIP code.
    pub zip: String,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its file name, e.g. `ticket-F12.png`.
    pub filename: String,
    /// Its media type, e.g. `image/png`.
    pub content_type: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A composed mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The recipient's name.
    pub to_name: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// The attachments: a confirmation's tickets (one QR-code PNG per seat) and its calendar entry.
    pub attachments: Vec<Attachment>,
}

/// The mail for an event of `topic`, or `None` for a topic that has no mail. A confirmation carries each seat's
/// ticket, signed with `tickets` (without keys, the mail says to show the booking number instead), and the showtime
/// as a calendar entry.
pub fn compose(topic: &str, event: &BookingEvent, context: &MailContext, tickets: Option<&TicketKeys>) -> Option<Mail> {
    let when = local_time(context);
    let (subject, opening) = match topic {
        BOOKING_PAID => (
            format!("Your tickets: {}, {when}", context.title),
            "Thank you for your purchase. Show this mail (or the booking number) at the entrance.".to_owned(),
        ),
        BOOKING_CANCELED => (format!("Booking canceled: {}, {when}", context.title), {
            let why = match event.reason.as_deref() {
                Some("showtime_canceled") => "We are sorry: this showtime has been canceled. ",
                _ => "",
            };
            match &event.payment_ref {
                Some(charge) => {
                    format!("{why}Your booking is canceled and your payment ({charge}) has been refunded.")
                }
                None => format!("{why}Your booking is canceled; its seats are released."),
            }
        }),
        _ => return None,
    };
    let mut body = format!("Hello {},\n\n{opening}\n\n", context.name);
    body.push_str(&format!("Booking:  {}\n", event.booking_id));
    body.push_str(&format!("Movie:    {}\n", context.title));
    body.push_str(&format!("When:     {when}\n"));
    body.push_str(&format!("Where:    {}, {} (screen {})\n", context.theater, context.address, context.screen_number));
    body.push_str("Seats:\n");
    for seat in &event.seats {
        body.push_str(&format!("  {:<6} {:<11} {}\n", seat.label, seat.kind, money(seat.price, &event.currency)));
    }
    body.push_str(&format!("Total:    {}\n", money(event.total, &event.currency)));
    if topic == BOOKING_PAID
        && let Some(charge) = &event.payment_ref
    {
        body.push_str(&format!("Payment:  {charge}\n"));
    }
    let mut attachments = Vec::new();
    if topic == BOOKING_PAID {
        attachments = confirmation_attachments(event, context, tickets);
        let shown = attachments.iter().filter(|a| a.content_type == "image/png").count();
        if shown > 0 {
            body.push_str(&format!(
                "\nYour {shown} ticket(s) are attached as QR codes (ticket-<seat>.png): show each at the door, where it \
                 is scanned once. The calendar entry is showtime.ics.\n"
            ));
        }
    }
    body.push_str("\nboxoffice\n");
    Some(Mail { to: context.email.clone(), to_name: context.name.clone(), subject, body, attachments })
}

/// A confirmation's tickets (one QR-code PNG a seat, when keys are configured) and its calendar entry.
fn confirmation_attachments(
    event: &BookingEvent,
    context: &MailContext,
    tickets: Option<&TicketKeys>,
) -> Vec<Attachment> {
    let mut out = Vec::new();
    for seat in event.seats.iter().filter(|_| tickets.is_some()) {
        let claims = TicketClaims { showtime: event.showtime_id, booking: event.booking_id, seat: seat.label.clone() };
        let png = tickets.and_then(|k| k.sign(&claims).ok()).and_then(|token| render::qr_png(&token).ok());
        match png {
            Some(bytes) => out.push(Attachment {
                filename: format!("ticket-{}.png", seat.label),
                content_type: "image/png",
                bytes,
            }),
            None => tracing::warn!(booking = %event.booking_id, seat = %seat.label, "ticket QR code not rendered"),
        }
    }
    let uid = format!("{}@boxoffice", event.booking_id);
    let location = format!("{}, {}, {} {}", context.theater, context.address, context.city, context.zip);
    let seats: Vec<&str> = event.seats.iter().map(|s| s.label.as_str()).collect();
    let description =
        format!("Screen {}, seats {}. Booking {}.", context.screen_number, seats.join(", "), event.booking_id);
    let ics = render::ics(&CalendarEvent {
        uid: &uid,
        summary: &context.title,
        location: &location,
        description: &description,
        start: context.start,
        end: context.end,
        stamp: OffsetDateTime::now_utc(),
    });
    out.push(Attachment { filename: "showtime.ics".into(), content_type: "text/calendar", bytes: ics.into_bytes() });
    out
}

/// `2026-11-25 19:30 (America/New_York)`.
fn local_time(context: &MailContext) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]");
    let start = context.local_start.format(&format).unwrap_or_else(|_| context.local_start.to_string());
    format!("{start} ({})", context.time_zone)
}

/// `USD 12.50`: minor units shown with two decimals (the currencies the service sells in all have cents).
fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{currency} {sign}{}.{:02}", minor / 100, minor % 100)
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn event(payment_ref: Option<&str>) -> BookingEvent {
        BookingEvent {
            booking_id: Uuid::nil(),
            user_id: Uuid::nil(),
            showtime_id: Uuid::nil(),
            seats: vec![
                EventSeat { label: "F12".into(), kind: "standard".into(), price: 1250 },
                EventSeat { label: "F13".into(), kind: "premium".into(), price: 1805 },
            ],
            total: 3055,
            currency: "USD".into(),
            payment_ref: payment_ref.map(str::to_owned),
            reason: None,
        }
    }

    fn context() -> MailContext {
        MailContext {
            email: "ada@example.com".into(),
            name: "Ada".into(),
            title: "Metropolis".into(),
            theater: "Film Forum".into(),
            address: "209 W Houston St".into(),
            screen_number: 2,
            local_start: datetime!(2026-11-25 19:30),
            time_zone: "America/New_York".into(),
            start: datetime!(2026-11-26 00:30 UTC),
            end: datetime!(2026-11-26 02:30 UTC),
            city: "New York".into(),
            zip: "10014".into(),
        }
    }

    #[test]
    fn a_confirmation_lists_the_seats_the_total_and_the_local_start() {
        let mail = compose(BOOKING_PAID, &event(Some("ch_1")), &context(), None).expect("a mail");
        assert_eq!(mail.to, "ada@example.com");
        assert_eq!(mail.subject, "Your tickets: Metropolis, 2026-11-25 19:30 (America/New_York)");
        for line in ["F12    standard    USD 12.50", "F13    premium     USD 18.05", "Total:    USD 30.55"] {
            assert!(mail.body.contains(line), "{line:?} missing from\n{}", mail.body);
        }
        assert!(mail.body.contains("Film Forum, 209 W Houston St (screen 2)"), "{}", mail.body);
        assert!(mail.body.contains("Payment:  ch_1"), "{}", mail.body);
    }

    #[test]
    fn a_cancellation_says_whether_money_was_refunded() {
        let refunded = compose(BOOKING_CANCELED, &event(Some("ch_9")), &context(), None).expect("a mail");
        assert!(refunded.subject.starts_with("Booking canceled: Metropolis"), "{}", refunded.subject);
        assert!(refunded.body.contains("payment (ch_9) has been refunded"), "{}", refunded.body);
        let released = compose(BOOKING_CANCELED, &event(None), &context(), None).expect("a mail");
        assert!(released.body.contains("its seats are released") && !released.body.contains("refunded"));
    }

    #[test]
    fn a_cancellation_of_the_showtime_says_so() {
        let event = BookingEvent { reason: Some("showtime_canceled".into()), ..event(Some("ch_9")) };
        let mail = compose(BOOKING_CANCELED, &event, &context(), None).expect("a mail");
        assert!(mail.body.contains("this showtime has been canceled"), "{}", mail.body);
        assert!(mail.body.contains("payment (ch_9) has been refunded"), "{}", mail.body);
        let own = compose(BOOKING_CANCELED, &self::event(Some("ch_9")), &context(), None).expect("a mail");
        assert!(!own.body.contains("showtime has been canceled"), "{}", own.body);
    }

    #[test]
    fn other_topics_have_no_mail() {
        assert_eq!(compose("booking.held", &event(None), &context(), None), None);
    }

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(money(5, "EUR"), "EUR 0.05");
        assert_eq!(money(-1999, "USD"), "USD -19.99");
    }
}
