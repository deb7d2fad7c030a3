//! The read side and the write side together: what a buyer sees after holding and after cancelling.

use reqwest::StatusCode;

use crate::catalog_support::available;
use crate::helpers::booking::{cancel, customers, held, id_of, show};
use crate::helpers::{TestApp, expect_status};

#[tokio::test]
async fn a_hold_shows_on_a_warm_seat_map_at_once_and_a_cancel_frees_the_seats() {
    // A one-minute cache TTL: only the booking side's invalidation can make the map fresh within this test.
    let app = TestApp::spawn_with(&[("BOXOFFICE_SEATMAP_TTL_MS", "60000")]).await;
    let show = show(&app, 3).await;
    let seats = show.standard(10, 2);
    let path = format!("/showtimes/{}/seats", show.id);
    let (_, token) = customers(&app, 1).await.remove(0);

    let before = app.get(&path, None).await;
    let etag_before = before.headers()["etag"].clone();
    let map = expect_status(before, StatusCode::OK).await;
    assert!(seats.iter().all(|s| available(&map, s)), "seats start free");

    let booking = held(&app, &token, show.id, &seats).await;
    let after_hold = app.get(&path, None).await;
    assert_ne!(after_hold.headers()["etag"], etag_before, "the ETag changes with availability");
    let map = expect_status(after_hold, StatusCode::OK).await;
    for seat in &seats {
        assert!(!available(&map, seat), "{seat} still shown free after the hold");
    }

    expect_status(cancel(&app, Some(&token), &id_of(&booking), None).await, StatusCode::OK).await;
    let map = expect_status(app.get(&path, None).await, StatusCode::OK).await;
    for seat in &seats {
        assert!(available(&map, seat), "{seat} still shown taken after the cancel");
    }
}
