//! What the door decides about a scanned ticket, from what the database says of it: pure, unit-tested in place.
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// A ticket's state as the check-in transaction reads it (`door_view.sql`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorView {
    /// The first admission, if any: (scan time, scanner, door).
    pub admitted: Option<Admission>,
    /// Whether its booking is still paid (canceled and refunded bookings are not).
    pub booking_paid: bool,
    /// The showtime's theater.
    pub theater: Uuid,
}

/// One admission of a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Admission {
    /// When the admitting scan happened (the scanner's clock for offline scans, the server's otherwise).
    #[serde(with = "time::serde::rfc3339")]
    pub admitted_at: OffsetDateTime,
    /// The staff account that scanned it.
    pub admitted_by: Uuid,
    /// The theater the scanner said it stands at, if it said.
    pub theater_id: Option<Uuid>,
}

/// A scan: who, where, when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// The scanner's staff account.
    pub scanner: Uuid,
    /// The theater it stands at, when it says.
    pub door: Option<Uuid>,
    /// The showtime it admits for, when it says.
    pub showtime: Option<Uuid>,
}

/// The door's verdict before any write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Not admitted yet: admit now.
    Admit,
    /// Admitted already by this very scanner: its retry, answered as the original admission.
    Replay(Admission),
    /// Admitted already by another scanner (or at another door).
    AlreadyAdmitted(Admission),
    /// The booking is no longer paid (canceled, refunded): the ticket admits no one.
    Canceled,
    /// The ticket is for a showtime at another theater, or another showtime than the scanner admits for.
    WrongShowtime,
}

/// What to do with a scan of a validly signed ticket of `ticket_showtime` whose state is `view`.
pub fn decide(view: &DoorView, ticket_showtime: Uuid, scan: &Scan) -> Verdict {
    if !view.booking_paid {
        return Verdict::Canceled;
    }
    if scan.door.is_some_and(|door| door != view.theater) || scan.showtime.is_some_and(|s| s != ticket_showtime) {
        return Verdict::WrongShowtime;
    }
    match view.admitted {
        None => Verdict::Admit,
        Some(first) if first.admitted_by == scan.scanner => Verdict::Replay(first),
        Some(first) => Verdict::AlreadyAdmitted(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_door_decides_in_this_order_canceled_then_place_then_admission() {
        let (theater, showtime, scanner, other) =
            (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3), Uuid::from_u128(4));
        let first = Admission { admitted_at: OffsetDateTime::UNIX_EPOCH, admitted_by: scanner, theater_id: None };
        let by_other = Admission { admitted_by: other, ..first };
        let open = DoorView { admitted: None, booking_paid: true, theater };
        let scan = Scan { scanner, door: Some(theater), showtime: Some(showtime) };
        let cases = [
            (open.clone(), scan, Verdict::Admit),
            (DoorView { booking_paid: false, ..open.clone() }, scan, Verdict::Canceled),
            (DoorView { admitted: Some(first), booking_paid: false, ..open.clone() }, scan, Verdict::Canceled),
            (open.clone(), Scan { door: Some(other), ..scan }, Verdict::WrongShowtime),
            (open.clone(), Scan { showtime: Some(other), ..scan }, Verdict::WrongShowtime),
            (open.clone(), Scan { door: None, showtime: None, ..scan }, Verdict::Admit),
            (DoorView { admitted: Some(first), ..open.clone() }, scan, Verdict::Replay(first)),
            (DoorView { admitted: Some(by_other), ..open.clone() }, scan, Verdict::AlreadyAdmitted(by_other)),
        ];
        for (view, scan, expected) in cases {
            assert_eq!(decide(&view, showtime, &scan), expected, "{view:?} {scan:?}");
        }
    }
}
