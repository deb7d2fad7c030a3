-- A hold's booking columns seats, seat_count and total_amount (in that order), aggregated over its seats `st` priced
-- by the LATERAL `p` (seat_price.sql): the seat list sorted by label, with each seat's kind and price. Used by
-- hold.sql and hold_batch.sql as {{seat_list}}.
jsonb_agg(jsonb_build_object('label', st.seat_label, 'kind', st.kind, 'price', p.price)
                     ORDER BY st.seat_label),
           count(*),
           sum(p.price)
