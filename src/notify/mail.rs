//! What a booking mail says: pure functions from an outbox event and its context to a subject and a plain-text body,
//! so that they are tested without a database or a mail server.

use serde::Deserialize;
use time::PrimitiveDateTime;
use time::macros::format_description;
use uuid::Uuid;

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
}

/// The mail for an event of `topic`, or `None` for a topic that has no mail.
pub fn compose(topic: &str, event: &BookingEvent, context: &MailContext) -> Option<Mail> {
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
    body.push_str("\nboxoffice\n");
    Some(Mail { to: context.email.clone(), to_name: context.name.clone(), subject, body })
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
        }
    }

    #[test]
    fn a_confirmation_lists_the_seats_the_total_and_the_local_start() {
        let mail = compose(BOOKING_PAID, &event(Some("ch_1")), &context()).expect("a mail");
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
        let refunded = compose(BOOKING_CANCELED, &event(Some("ch_9")), &context()).expect("a mail");
        assert!(refunded.subject.starts_with("Booking canceled: Metropolis"), "{}", refunded.subject);
        assert!(refunded.body.contains("payment (ch_9) has been refunded"), "{}", refunded.body);
        let released = compose(BOOKING_CANCELED, &event(None), &context()).expect("a mail");
        assert!(released.body.contains("its seats are released") && !released.body.contains("refunded"));
    }

    #[test]
    fn a_cancellation_of_the_showtime_says_so() {
        let event = BookingEvent { reason: Some("showtime_canceled".into()), ..event(Some("ch_9")) };
        let mail = compose(BOOKING_CANCELED, &event, &context()).expect("a mail");
        assert!(mail.body.contains("this showtime has been canceled"), "{}", mail.body);
        assert!(mail.body.contains("payment (ch_9) has been refunded"), "{}", mail.body);
        let own = compose(BOOKING_CANCELED, &self::event(Some("ch_9")), &context()).expect("a mail");
        assert!(!own.body.contains("showtime has been canceled"), "{}", own.body);
    }

    #[test]
    fn other_topics_have_no_mail() {
        assert_eq!(compose("booking.held", &event(None), &context()), None);
    }

    #[test]
    fn money_has_two_decimals() {
        assert_eq!(money(5, "EUR"), "EUR 0.05");
        assert_eq!(money(-1999, "USD"), "USD -19.99");
    }
}
