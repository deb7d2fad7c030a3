-- What a hold needs, read inside the hold transaction: the showtime's state and prices (locked into the booking,
-- I5), the transaction's clock, and the kind of each requested seat that the showtime's screen has (a LEFT JOIN:
-- one row with NULL seat columns when none matches, so an unknown showtime is the only zero-row answer).
-- $1 region, $2 showtime id, $3 requested seat labels (TEXT[]).
-- Returns one row per known requested seat: now, status, start_time, price_standard, price_premium,
-- price_accessible, price_companion, currency, seat_label, kind.
SELECT now() AS now, s.status, s.start_time,
       s.price_standard, s.price_premium, s.price_accessible, s.price_companion, s.currency,
       st.seat_label, st.kind
FROM showtimes s
LEFT JOIN seats st
       ON st.region = s.region AND st.theater_id = s.theater_id AND st.screen_number = s.screen_number
      AND st.seat_label = ANY($3)
WHERE s.region = $1 AND s.id = $2
