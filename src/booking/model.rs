//! Pure booking types and rules: ids, the status state machine, seat selections, prices, and the decisions of the
//! hold / finalize / cancel protocol (DESIGN.md §6). No I/O: the store and the service ask these functions what to do.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::auth::model::UserId;
use crate::db::Region;
pub use crate::ids::BookingId;
use crate::ids::ShowtimeId;

/// Where a booking is in its life (DESIGN.md §5–6).
///
/// ```text
/// reserved ──finalize──> payment_pending ──charged──> paid ──cancel (refund)──> canceled
///    │  │                  │   │   └──declined / not charged──> reserved
///    │  │                  │   └──payment window lapsed, seats taken over──> expired ──late payment, seats
///    │  └──hold lapsed──> expired                                                         re-claimed──> paid
///    └──cancel──> canceled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Seats held until `hold_expires_at`.
    Reserved,
    /// A charge is under way (or its outcome is unknown); the hold is extended by the payment window.
    PaymentPending,
    /// Paid: the seats are held for good.
    Paid,
    /// Canceled by its owner or an admin (refunded if it was paid); seats released.
    Canceled,
    /// The hold lapsed; seats released.
    Expired,
}

impl BookingStatus {
    /// Every status.
    pub const ALL: [Self; 5] = [Self::Reserved, Self::PaymentPending, Self::Paid, Self::Canceled, Self::Expired];

    /// The stored form (the values of `bookings_status_check`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "reserved",
            Self::PaymentPending => "payment_pending",
            Self::Paid => "paid",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
        }
    }

    /// Whether the booking still holds its seats (given an unexpired hold for `reserved`).
    pub fn is_live(self) -> bool {
        matches!(self, Self::Reserved | Self::PaymentPending | Self::Paid)
    }

    /// Whether `self -> next` is a transition of the state machine above.
    pub fn can_become(self, next: Self) -> bool {
        use BookingStatus::*;
        matches!(
            (self, next),
            (Reserved, PaymentPending | Canceled | Expired)
                | (PaymentPending, Paid | Reserved | Expired | Canceled)
                | (Paid, Canceled)
                | (Expired, Paid)
        )
    }

    /// The status a client sees at `now`: a `reserved` booking whose hold has lapsed is `expired` even before the
    /// sweeper has written it (its seats already block nothing, I4).
    pub fn effective(self, hold_expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Self {
        match (self, hold_expires_at) {
            (Self::Reserved, Some(expiry)) if expiry <= now => Self::Expired,
            (status, _) => status,
        }
    }
}

impl fmt::Display for BookingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BookingStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|status| status.as_str() == s).ok_or_else(|| format!("unknown status {s:?}"))
    }
}

/// The kind of a seat; each has its own price on a showtime (one definition, the catalog's).
pub use crate::catalog::model::SeatKind;

/// A seat label such as `F12`: one to three row letters, then a seat number from 1 to 999 without leading zeros.
/// Parsing trims and upper-cases, so `" f12"` is `F12`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(pattern = r"^\s*[A-Za-z]{1,3}[1-9][0-9]{0,2}\s*$", example = "F12")]
pub struct SeatLabel(String);

impl SeatLabel {
    /// Parses a label.
    ///
    /// # Errors
    /// The input, when it is not a label.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let label = raw.trim().to_ascii_uppercase();
        let letters = label.bytes().take_while(u8::is_ascii_uppercase).count();
        let digits = &label[letters..];
        let ok = (1..=3).contains(&letters)
            && (1..=3).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok { Ok(Self(label)) } else { Err(raw.to_owned()) }
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SeatLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a list of seats is not a selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionError {
    /// No seat at all.
    Empty,
    /// More seats than one booking may hold.
    TooMany {
        /// The configured maximum.
        max: usize,
        /// How many were asked for.
        requested: usize,
    },
    /// Entries that are not seat labels, as sent.
    Malformed(Vec<String>),
    /// Labels that appear more than once.
    Duplicates(Vec<String>),
}

impl fmt::Display for SelectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must name at least one seat"),
            Self::TooMany { max, requested } => write!(f, "at most {max} seats per booking, {requested} requested"),
            Self::Malformed(bad) => write!(f, "not seat labels (expected e.g. \"F12\"): {}", bad.join(", ")),
            Self::Duplicates(dups) => write!(f, "seats listed more than once: {}", dups.join(", ")),
        }
    }
}

/// The seats of one hold: 1..=max distinct, well-formed labels, kept sorted so that concurrent claims lock seat
/// rows in the same order (fewer deadlocks) and so that the order a client lists them in does not make two
/// requests different.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatSelection(Vec<SeatLabel>);

impl SeatSelection {
    /// Parses the `seatIds` of a hold.
    ///
    /// # Errors
    /// See [`SelectionError`]; the count is checked first, so an oversized list is refused before any parsing.
    pub fn parse(raw: &[String], max: usize) -> Result<Self, SelectionError> {
        if raw.is_empty() {
            return Err(SelectionError::Empty);
        }
        if raw.len() > max {
            return Err(SelectionError::TooMany { max, requested: raw.len() });
        }
        let mut labels = Vec::with_capacity(raw.len());
        let mut malformed = Vec::new();
        for entry in raw {
            match SeatLabel::parse(entry) {
                Ok(label) => labels.push(label),
                Err(bad) => malformed.push(bad),
            }
        }
        if !malformed.is_empty() {
            return Err(SelectionError::Malformed(malformed));
        }
        labels.sort();
        let duplicates: BTreeSet<String> =
            labels.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0].as_str().to_owned()).collect();
        if !duplicates.is_empty() {
            return Err(SelectionError::Duplicates(duplicates.into_iter().collect()));
        }
        Ok(Self(labels))
    }

    /// The labels, sorted.
    pub fn labels(&self) -> &[SeatLabel] {
        &self.0
    }

    /// The labels as strings, sorted (for SQL `= ANY($n)` parameters).
    pub fn as_strings(&self) -> Vec<String> {
        self.0.iter().map(|l| l.0.clone()).collect()
    }

    /// Number of seats.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a selection has at least one seat.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One seat of a booking with the price locked at hold time (I5: `hold.sql` takes it from the showtime row, by the
/// seat's kind). Also the element of `bookings.seats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PricedSeat {
    /// The seat's label.
    pub label: String,
    /// Its kind.
    pub kind: SeatKind,
    /// Its price in minor units.
    pub price: i64,
}

/// The labels of `selection` that the showtime's screen does not have (`known`: the requested labels it has).
pub fn unknown_seats<S: std::hash::BuildHasher>(
    selection: &SeatSelection,
    known: &HashMap<String, SeatKind, S>,
) -> Vec<String> {
    selection.labels().iter().filter(|l| !known.contains_key(l.as_str())).map(|l| l.as_str().to_owned()).collect()
}

/// A booking as stored and as the API shows it (camelCase JSON; money in minor units with its currency).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    /// The region of its showtime (every statement about it carries it; not shown).
    #[serde(skip)]
    pub region: Region,
    /// Id.
    pub id: BookingId,
    /// Owner.
    pub user_id: UserId,
    /// The showtime.
    pub showtime_id: ShowtimeId,
    /// Status (see [`Booking::as_seen_at`]).
    pub status: BookingStatus,
    /// Seats with the prices locked at hold time.
    pub seats: Vec<PricedSeat>,
    /// Sum of the seat prices.
    pub total: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// End of the hold; `null` once paid.
    #[serde(with = "time::serde::rfc3339::option")]
    pub hold_expires_at: Option<OffsetDateTime>,
    /// The provider's charge id once paid.
    pub payment_ref: Option<String>,
    /// Creation time (the hold).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Booking {
    /// The booking as a client sees it at `now`: a lapsed reservation shows as `expired`
    /// ([`BookingStatus::effective`]).
    #[must_use]
    pub fn as_seen_at(mut self, now: OffsetDateTime) -> Self {
        self.status = self.status.effective(self.hold_expires_at, now);
        self
    }

    /// The seat labels, in order.
    pub fn labels(&self) -> Vec<String> {
        self.seats.iter().map(|s| s.label.clone()).collect()
    }
}

/// Why a showtime takes no holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShowtimeClosed {
    /// It was canceled.
    Canceled,
    /// It has started (or is over).
    Started,
}

/// Whether a showtime in state `status` starting at `start_time` takes holds at `now`.
///
/// # Errors
/// Why not.
pub fn check_showtime_open(
    status: &str,
    start_time: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), ShowtimeClosed> {
    if status == "canceled" {
        Err(ShowtimeClosed::Canceled)
    } else if start_time <= now {
        Err(ShowtimeClosed::Started)
    } else {
        Ok(())
    }
}

/// The per-user cap: `live_after` is the number of the user's live seats on the showtime counting this hold.
///
/// # Errors
/// `(limit, already held before this hold)` when the hold would exceed the cap.
pub fn check_user_cap(live_after: i64, requested: usize, cap: usize) -> Result<(), (usize, usize)> {
    let live_after = usize::try_from(live_after).unwrap_or(usize::MAX);
    if live_after > cap { Err((cap, live_after.saturating_sub(requested))) } else { Ok(()) }
}

/// Why a hold is not extended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtendRefused {
    /// The booking's state (expired, paid, canceled, being paid) or the caller.
    Refused(Refusal),
    /// The showtime was canceled or has started.
    Closed(ShowtimeClosed),
    /// The hold was extended `limit` times already.
    Limit(u32),
    /// The hold already lasts until the showtime starts.
    PastStart,
}

/// What a hold becomes when extended at `now` (POST /bookings/{id}/extend): its expiry plus `by`, never past the
/// showtime's `start_time`, at most `limit` times (`extensions` so far). Only a live `reserved` hold of its owner on
/// a showtime still on sale is extended; the countdown cannot be reset for ever because the count is stored and
/// checked in the same transaction that raises it.
///
/// # Errors
/// Why not, in the order a client can act on: not theirs, not a live hold, showtime closed, limit, start.
#[expect(clippy::too_many_arguments, reason = "the facts of one decision, each read from one row")]
pub fn extend_until(
    owner: UserId,
    caller: UserId,
    caller_is_admin: bool,
    status: BookingStatus,
    hold_expires_at: Option<OffsetDateTime>,
    extensions: u32,
    showtime: (&str, OffsetDateTime),
    limit: u32,
    by: std::time::Duration,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, ExtendRefused> {
    authorize(owner, caller, caller_is_admin, Action::Extend).map_err(ExtendRefused::Refused)?;
    let expiry = match (status.effective(hold_expires_at, now), hold_expires_at) {
        (BookingStatus::Reserved, Some(expiry)) => expiry,
        (BookingStatus::Expired, _) => return Err(ExtendRefused::Refused(Refusal::HoldExpired)),
        (BookingStatus::PaymentPending, _) => return Err(ExtendRefused::Refused(Refusal::PaymentInProgress)),
        (other, _) => return Err(ExtendRefused::Refused(Refusal::WrongState(other))),
    };
    let (showtime_status, start_time) = showtime;
    check_showtime_open(showtime_status, start_time, now).map_err(ExtendRefused::Closed)?;
    if extensions >= limit {
        return Err(ExtendRefused::Limit(limit));
    }
    if expiry >= start_time {
        return Err(ExtendRefused::PastStart);
    }
    let by = time::Duration::try_from(by).unwrap_or(time::Duration::ZERO);
    Ok((expiry + by).min(start_time))
}

/// What a finalize request must do with a booking in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalizeStep {
    /// Move to `payment_pending` and charge.
    Charge,
    /// Already paid (an earlier attempt succeeded): answer with the booking, charge nothing.
    AlreadyPaid,
}

/// A refusal of the booking protocol, independent of HTTP (the routes map each to a problem type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such booking, or one the caller may not see.
    NotFound,
    /// The caller may see the booking but not do this to it.
    NotAllowed(&'static str),
    /// The hold lapsed (or the booking expired).
    HoldExpired,
    /// A charge for this booking is under way or its outcome is not known yet.
    PaymentInProgress,
    /// The booking's state does not allow this.
    WrongState(BookingStatus),
}

/// Whether a booking in `status` with hold `hold_expires_at` can be finalized at `now`.
///
/// # Errors
/// The refusal.
pub fn finalize_step(
    status: BookingStatus,
    hold_expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<FinalizeStep, Refusal> {
    match status.effective(hold_expires_at, now) {
        BookingStatus::Reserved => Ok(FinalizeStep::Charge),
        BookingStatus::Paid => Ok(FinalizeStep::AlreadyPaid),
        BookingStatus::PaymentPending => Err(Refusal::PaymentInProgress),
        BookingStatus::Expired => Err(Refusal::HoldExpired),
        BookingStatus::Canceled => Err(Refusal::WrongState(BookingStatus::Canceled)),
    }
}

/// What a cancellation must do with a booking in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelStep {
    /// Mark canceled and release the claims.
    Release,
    /// Refund the payment, then cancel and release.
    RefundThenRelease,
    /// Already canceled: answer with the booking (DELETE is idempotent).
    AlreadyCanceled,
}

/// Whether a booking in `status` with hold `hold_expires_at` can be canceled at `now`.
///
/// # Errors
/// The refusal: a lapsed or expired hold has nothing left to cancel; a payment under way must resolve first.
pub fn cancel_step(
    status: BookingStatus,
    hold_expires_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<CancelStep, Refusal> {
    match status.effective(hold_expires_at, now) {
        BookingStatus::Reserved => Ok(CancelStep::Release),
        BookingStatus::Paid => Ok(CancelStep::RefundThenRelease),
        BookingStatus::Canceled => Ok(CancelStep::AlreadyCanceled),
        BookingStatus::PaymentPending => Err(Refusal::PaymentInProgress),
        BookingStatus::Expired => Err(Refusal::WrongState(BookingStatus::Expired)),
    }
}

/// Who may do what to a booking: its owner everything; an admin may look and cancel (support) but not pay for
/// someone else; anyone else learns nothing, not even that it exists (404).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `GET /bookings/{id}`.
    View,
    /// `PUT /bookings/{id}/finalize`.
    Pay,
    /// `DELETE /bookings/{id}`.
    Cancel,
    /// `POST /bookings/{id}/extend`.
    Extend,
}

/// Whether `caller` (an admin or not) may do `action` to a booking owned by `owner`.
///
/// # Errors
/// [`Refusal::NotFound`] for strangers, [`Refusal::NotAllowed`] for an admin paying someone else's booking.
pub fn authorize(owner: UserId, caller: UserId, caller_is_admin: bool, action: Action) -> Result<(), Refusal> {
    if owner == caller {
        return Ok(());
    }
    match (caller_is_admin, action) {
        (true, Action::View | Action::Cancel) => Ok(()),
        (true, Action::Pay) => Err(Refusal::NotAllowed("only the booking's owner can pay for it")),
        (true, Action::Extend) => Err(Refusal::NotAllowed("only the booking's owner can extend its hold")),
        (false, _) => Err(Refusal::NotFound),
    }
}

/// The value of an `Idempotency-Key` header: 1–255 visible ASCII characters (what fits `idempotency_keys.key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Largest accepted key.
    pub const MAX_LEN: usize = 255;

    /// Parses a header value.
    ///
    /// # Errors
    /// What is wrong, for a person.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(format!("must be 1 to {} characters", Self::MAX_LEN));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be visible ASCII characters without spaces (a UUID is a good key)".into());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The fingerprint of a request stored with its idempotency key: SHA-256 (hex) of method, route template, user and
/// the canonical form of the request (parsed and normalised, so that the order of seats or of JSON members does
/// not make two identical requests differ).
pub fn request_hash(method: &str, route: &str, user: UserId, canonical: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [method, route, &user.to_string(), canonical] {
        hasher.update(part.as_bytes());
        // A separator that cannot occur in the parts, so ("a", "bc") and ("ab", "c") differ.
        hasher.update([0u8]);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What an idempotency key that already exists means for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVerdict {
    /// Same request, finished: send the stored response again.
    Replay {
        /// Stored HTTP status.
        status: u16,
        /// Stored body.
        body: serde_json::Value,
    },
    /// Same key, another request: 422.
    Reused,
    /// Same request, still running: 409.
    InFlight,
}

/// Judges an existing key (`stored_hash`, `stored_response`) against an incoming request's hash.
pub fn judge_key(
    stored_hash: &str,
    stored_response: Option<(u16, serde_json::Value)>,
    incoming_hash: &str,
) -> KeyVerdict {
    if stored_hash != incoming_hash {
        return KeyVerdict::Reused;
    }
    match stored_response {
        Some((status, body)) => KeyVerdict::Replay { status, body },
        None => KeyVerdict::InFlight,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn seat_labels_are_row_letters_then_a_number_without_leading_zero() {
        for (raw, expected) in
            [("F12", Some("F12")), (" f12 ", Some("F12")), ("A1", Some("A1")), ("AA100", Some("AA100"))]
        {
            assert_eq!(SeatLabel::parse(raw).ok().as_ref().map(SeatLabel::as_str), expected, "{raw:?}");
        }
        for raw in ["", "F", "12", "F0", "F012", "F1000", "ABCD1", "F-12", "F 12", "É1", "F12A", "1F"] {
            assert!(SeatLabel::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn a_selection_is_sorted_and_bounded() {
        let selection = SeatSelection::parse(&strings(&["F12", "a1", "F2"]), 10).expect("valid");
        assert_eq!(selection.as_strings(), ["A1", "F12", "F2"]);
        assert_eq!(selection.len(), 3);
        assert!(SeatSelection::parse(&strings(&["A1"; 1]), 1).is_ok());
    }

    #[test]
    fn a_selection_refuses_empty_oversized_malformed_and_duplicate_lists() {
        let ten: Vec<String> = (1..=11).map(|n| format!("A{n}")).collect();
        for (raw, max, expected) in [
            (vec![], 10, SelectionError::Empty),
            (ten.clone(), 10, SelectionError::TooMany { max: 10, requested: 11 }),
            (strings(&["A1", "nope", "B0"]), 10, SelectionError::Malformed(strings(&["nope", "B0"]))),
            (strings(&["A1", "a1", "B2", "B2", "C3"]), 10, SelectionError::Duplicates(strings(&["A1", "B2"]))),
        ] {
            assert_eq!(SeatSelection::parse(&raw, max), Err(expected.clone()), "{raw:?}");
            assert!(!expected.to_string().is_empty());
        }
    }

    #[test]
    fn the_state_machine_allows_exactly_the_protocol_transitions() {
        use BookingStatus::*;
        let allowed = [
            (Reserved, PaymentPending),
            (Reserved, Canceled),
            (Reserved, Expired),
            (PaymentPending, Paid),
            (PaymentPending, Reserved),
            (PaymentPending, Expired),
            (PaymentPending, Canceled),
            (Paid, Canceled),
            (Expired, Paid),
        ];
        for from in BookingStatus::ALL {
            for to in BookingStatus::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
        for status in BookingStatus::ALL {
            assert_eq!(status.as_str().parse::<BookingStatus>(), Ok(status));
        }
        assert!("pending".parse::<BookingStatus>().is_err());
    }

    #[test]
    fn a_lapsed_reservation_reads_as_expired() {
        let now = datetime!(2030-01-01 12:00 UTC);
        let past = Some(datetime!(2030-01-01 11:59 UTC));
        let future = Some(datetime!(2030-01-01 12:01 UTC));
        assert_eq!(BookingStatus::Reserved.effective(past, now), BookingStatus::Expired);
        assert_eq!(BookingStatus::Reserved.effective(Some(now), now), BookingStatus::Expired);
        assert_eq!(BookingStatus::Reserved.effective(future, now), BookingStatus::Reserved);
        assert_eq!(BookingStatus::Paid.effective(None, now), BookingStatus::Paid);
        assert_eq!(BookingStatus::PaymentPending.effective(past, now), BookingStatus::PaymentPending);
    }

    #[test]
    fn unknown_seats_are_those_the_screen_lacks_in_label_order() {
        let known: HashMap<String, SeatKind> =
            [("A1".to_owned(), SeatKind::Standard), ("H5".to_owned(), SeatKind::Premium)].into_iter().collect();
        let selection = SeatSelection::parse(&strings(&["H5", "A1"]), 10).expect("valid");
        assert!(unknown_seats(&selection, &known).is_empty());
        let selection = SeatSelection::parse(&strings(&["A1", "Z9", "Y1"]), 10).expect("valid");
        assert_eq!(unknown_seats(&selection, &known), strings(&["Y1", "Z9"]));
    }

    #[test]
    fn a_showtime_takes_holds_until_it_starts_unless_canceled() {
        let now = datetime!(2030-01-01 12:00 UTC);
        assert_eq!(check_showtime_open("scheduled", datetime!(2030-01-01 12:01 UTC), now), Ok(()));
        assert_eq!(check_showtime_open("scheduled", now, now), Err(ShowtimeClosed::Started));
        assert_eq!(
            check_showtime_open("canceled", datetime!(2030-01-02 12:00 UTC), now),
            Err(ShowtimeClosed::Canceled)
        );
    }

    #[test]
    fn the_user_cap_counts_this_hold_and_reports_what_was_already_held() {
        assert_eq!(check_user_cap(10, 2, 10), Ok(()));
        assert_eq!(check_user_cap(11, 2, 10), Err((10, 9)));
        assert_eq!(check_user_cap(3, 3, 2), Err((2, 0)));
    }

    #[test]
    fn finalize_and_cancel_decisions_follow_the_protocol() {
        use BookingStatus::*;
        let now = datetime!(2030-01-01 12:00 UTC);
        let live = Some(datetime!(2030-01-01 12:05 UTC));
        let lapsed = Some(datetime!(2030-01-01 11:55 UTC));
        assert_eq!(finalize_step(Reserved, live, now), Ok(FinalizeStep::Charge));
        assert_eq!(finalize_step(Reserved, lapsed, now), Err(Refusal::HoldExpired));
        assert_eq!(finalize_step(Expired, lapsed, now), Err(Refusal::HoldExpired));
        assert_eq!(finalize_step(PaymentPending, live, now), Err(Refusal::PaymentInProgress));
        assert_eq!(finalize_step(Paid, None, now), Ok(FinalizeStep::AlreadyPaid));
        assert_eq!(finalize_step(Canceled, None, now), Err(Refusal::WrongState(Canceled)));

        assert_eq!(cancel_step(Reserved, live, now), Ok(CancelStep::Release));
        assert_eq!(cancel_step(Reserved, lapsed, now), Err(Refusal::WrongState(Expired)));
        assert_eq!(cancel_step(Paid, None, now), Ok(CancelStep::RefundThenRelease));
        assert_eq!(cancel_step(Canceled, None, now), Ok(CancelStep::AlreadyCanceled));
        assert_eq!(cancel_step(PaymentPending, live, now), Err(Refusal::PaymentInProgress));
        assert_eq!(cancel_step(Expired, lapsed, now), Err(Refusal::WrongState(Expired)));
    }

    #[test]
    fn only_owners_pay_admins_view_and_cancel_strangers_see_nothing() {
        let owner = UserId(Uuid::from_u128(1));
        let other = UserId(Uuid::from_u128(2));
        for action in [Action::View, Action::Pay, Action::Cancel] {
            assert_eq!(authorize(owner, owner, false, action), Ok(()));
            assert_eq!(authorize(owner, other, false, action), Err(Refusal::NotFound));
        }
        assert_eq!(authorize(owner, other, true, Action::View), Ok(()));
        assert_eq!(authorize(owner, other, true, Action::Cancel), Ok(()));
        assert!(matches!(authorize(owner, other, true, Action::Pay), Err(Refusal::NotAllowed(_))));
    }

    #[test]
    fn idempotency_keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("9f1c2e6a-3b1d-4c55-9a61-0c2f1d1e7b11").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        for bad in [String::new(), "k".repeat(256), "has space".into(), "tab\tkey".into(), "clé".into()] {
            assert!(IdempotencyKey::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_request_hash_separates_every_part() {
        let user = UserId(Uuid::from_u128(7));
        let base = request_hash("POST", "/bookings", user, "{\"a\":1}");
        assert_eq!(base.len(), 64);
        assert_eq!(base, request_hash("POST", "/bookings", user, "{\"a\":1}"));
        assert_ne!(base, request_hash("PUT", "/bookings", user, "{\"a\":1}"));
        assert_ne!(base, request_hash("POST", "/bookings", UserId(Uuid::from_u128(8)), "{\"a\":1}"));
        assert_ne!(base, request_hash("POST", "/bookings", user, "{\"a\":2}"));
        assert_ne!(request_hash("POST", "/bookingsx", user, ""), request_hash("POST", "/bookings", user, "x"));
    }

    #[test]
    fn an_existing_key_replays_refuses_or_waits() {
        let body = serde_json::json!({"id": 1});
        assert_eq!(judge_key("h1", Some((201, body.clone())), "h1"), KeyVerdict::Replay { status: 201, body });
        assert_eq!(judge_key("h1", None, "h1"), KeyVerdict::InFlight);
        assert_eq!(judge_key("h1", None, "h2"), KeyVerdict::Reused);
        assert_eq!(judge_key("h1", Some((201, serde_json::Value::Null)), "h2"), KeyVerdict::Reused);
    }

    #[test]
    fn a_hold_is_extended_within_its_bounds_and_never_for_ever() {
        use std::time::Duration;
        let (owner, stranger) = (UserId(Uuid::from_u128(1)), UserId(Uuid::from_u128(2)));
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("valid");
        let expiry = now + time::Duration::minutes(5);
        let start = now + time::Duration::hours(2);
        let by = Duration::from_secs(300);
        let extend = |caller, admin, status, extensions, showtime: (&str, OffsetDateTime)| {
            extend_until(owner, caller, admin, status, Some(expiry), extensions, showtime, 1, by, now)
        };
        let open = ("scheduled", start);
        assert_eq!(extend(owner, false, BookingStatus::Reserved, 0, open), Ok(expiry + time::Duration::minutes(5)));
        // Once: the count is the bound, whatever the client retries.
        assert_eq!(extend(owner, false, BookingStatus::Reserved, 1, open), Err(ExtendRefused::Limit(1)));
        assert_eq!(extend(owner, false, BookingStatus::Reserved, 7, open), Err(ExtendRefused::Limit(1)));
        // Never past the start: capped at it, then refused once there.
        let soon = ("scheduled", expiry + time::Duration::minutes(1));
        assert_eq!(extend(owner, false, BookingStatus::Reserved, 0, soon), Ok(soon.1));
        let at_start = ("scheduled", expiry);
        assert_eq!(extend(owner, false, BookingStatus::Reserved, 0, at_start), Err(ExtendRefused::PastStart));
        // States.
        for (status, refusal) in [
            (BookingStatus::Expired, Refusal::HoldExpired),
            (BookingStatus::PaymentPending, Refusal::PaymentInProgress),
            (BookingStatus::Paid, Refusal::WrongState(BookingStatus::Paid)),
            (BookingStatus::Canceled, Refusal::WrongState(BookingStatus::Canceled)),
        ] {
            assert_eq!(extend(owner, false, status, 0, open), Err(ExtendRefused::Refused(refusal)), "{status}");
        }
        // A lapsed reservation is expired, even before the sweeper writes it.
        let lapsed = extend_until(owner, owner, false, BookingStatus::Reserved, Some(now), 0, open, 1, by, now);
        assert_eq!(lapsed, Err(ExtendRefused::Refused(Refusal::HoldExpired)));
        // Someone else's: not found; an admin: not allowed.
        assert_eq!(
            extend(stranger, false, BookingStatus::Reserved, 0, open),
            Err(ExtendRefused::Refused(Refusal::NotFound))
        );
        assert!(matches!(
            extend(stranger, true, BookingStatus::Reserved, 0, open),
            Err(ExtendRefused::Refused(Refusal::NotAllowed(_)))
        ));
        assert_eq!(
            extend(owner, false, BookingStatus::Reserved, 0, ("canceled", start)),
            Err(ExtendRefused::Closed(ShowtimeClosed::Canceled))
        );
    }
}
