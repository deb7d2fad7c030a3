//! The tickets' SQL calls (`sql/queries/tickets/`).
use crate::ids::{BookingId, ShowtimeId};
use deadpool_postgres::ClientWrapper;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::model::{Admission, DoorView};
use crate::db::{Region, queries::tickets as q};

/// One ticket row, with its admission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRow {
    /// Its booking.
    pub booking: Uuid,
    /// Its seat.
    pub seat: String,
    /// Its showtime.
    pub showtime: Uuid,
    /// Its admission, once admitted.
    pub admitted: Option<Admission>,
}

fn admission(row: &Row, at: &str, by: &str, door: &str) -> Result<Option<Admission>, tokio_postgres::Error> {
    let admitted_at: Option<OffsetDateTime> = row.try_get(at)?;
    let admitted_by: Option<Uuid> = row.try_get(by)?;
    Ok(match (admitted_at, admitted_by) {
        (Some(admitted_at), Some(admitted_by)) => {
            Some(Admission { admitted_at, admitted_by, theater_id: row.try_get(door)? })
        }
        _ => None,
    })
}

/// Issues a paid booking's tickets (inside the transaction that makes it paid; nothing twice).
///
/// # Errors
/// Database errors.
pub async fn issue(
    c: &ClientWrapper,
    region: &Region,
    booking: BookingId,
    showtime: ShowtimeId,
    seats: &[String],
) -> Result<(), tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::ISSUE).await?;
    c.execute(&stmt, &[region, &booking, &showtime, &seats]).await?;
    Ok(())
}

/// A booking's tickets, by seat.
///
/// # Errors
/// Database errors.
pub async fn of_booking(
    c: &ClientWrapper,
    region: &Region,
    booking: Uuid,
) -> Result<Vec<TicketRow>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::OF_BOOKING).await?;
    c.query(&stmt, &[region, &booking])
        .await?
        .iter()
        .map(|r| {
            Ok(TicketRow {
                booking,
                seat: r.try_get("seat_label")?,
                showtime: r.try_get("showtime_id")?,
                admitted: admission(r, "admitted_at", "admitted_by", "admitted_door")?,
            })
        })
        .collect()
}

/// A showtime's tickets whose booking is still paid.
///
/// # Errors
/// Database errors.
pub async fn of_showtime(
    c: &ClientWrapper,
    region: &Region,
    showtime: Uuid,
) -> Result<Vec<TicketRow>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::OF_SHOWTIME).await?;
    c.query(&stmt, &[region, &showtime])
        .await?
        .iter()
        .map(|r| {
            Ok(TicketRow {
                booking: r.try_get("booking_id")?,
                seat: r.try_get("seat_label")?,
                showtime,
                admitted: admission(r, "admitted_at", "admitted_by", "admitted_door")?,
            })
        })
        .collect()
}

/// The ticket as the door sees it, with the statement's clock (`None`: no such ticket of that showtime).
///
/// # Errors
/// Database errors.
pub async fn door_view(
    c: &ClientWrapper,
    region: &Region,
    (booking, seat, showtime): (Uuid, &str, Uuid),
) -> Result<Option<(DoorView, OffsetDateTime)>, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::DOOR_VIEW).await?;
    let Some(row) = c.query_opt(&stmt, &[region, &booking, &seat, &showtime]).await? else { return Ok(None) };
    let status: String = row.try_get("booking_status")?;
    let view = DoorView {
        admitted: admission(&row, "admitted_at", "admitted_by", "admitted_door")?,
        booking_paid: status == "paid",
        theater: row.try_get("theater_id")?,
    };
    Ok(Some((view, row.try_get("now")?)))
}

/// Records `admission` as the ticket's if it has none (or, `offline`, a later one). Returns whether it did.
///
/// # Errors
/// Database errors.
pub async fn admit(
    c: &ClientWrapper,
    region: &Region,
    (booking, seat): (Uuid, &str),
    admission: &Admission,
    offline: bool,
) -> Result<bool, tokio_postgres::Error> {
    let stmt = c.prepare_cached(q::ADMIT).await?;
    let a = admission;
    let rows =
        c.query(&stmt, &[region, &booking, &seat, &a.admitted_at, &a.admitted_by, &a.theater_id, &offline]).await?;
    Ok(!rows.is_empty())
}
