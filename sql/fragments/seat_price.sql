-- The price of a seat `st` by its kind, from its showtime `s` (I5: locked at hold time), as the column price of the
-- LATERAL `p`: once for a hold's seat list and its total. Used by hold.sql and hold_batch.sql as {{seat_price}}.
CROSS JOIN LATERAL (
        SELECT CASE st.kind WHEN 'premium' THEN s.price_premium WHEN 'accessible' THEN s.price_accessible
                            WHEN 'companion' THEN s.price_companion ELSE s.price_standard END AS price
    ) p
