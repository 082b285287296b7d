-- Enumerations stored by their one canonical spelling (the serde name: orders.status
-- snake_case, fills.side upper case, without JSON quotes), as on PostgreSQL. SQLite keeps its
-- own affinities: decimals stay exact TEXT (a NUMERIC affinity would turn them into floats),
-- JSON stays TEXT (query it with json_extract).

UPDATE orders SET status = CASE status
    WHEN 'PendingNew' THEN 'pending_new'
    WHEN 'Accepted' THEN 'accepted'
    WHEN 'PartiallyFilled' THEN 'partially_filled'
    WHEN 'Filled' THEN 'filled'
    WHEN 'Canceled' THEN 'canceled'
    WHEN 'Rejected' THEN 'rejected'
    WHEN 'Expired' THEN 'expired'
    ELSE status END;
UPDATE fills SET side = trim(side, '"');
