-- Typed columns an analyst can query in plain SQL: prices, quantities and money are NUMERIC,
-- structured bodies JSONB, enumerations stored by their one canonical spelling (the serde name:
-- orders.status snake_case, fills.side upper case, without JSON quotes).
-- Checkpoint states stay TEXT: opaque engine snapshots, restored byte for byte.

UPDATE orders SET status = CASE status
    WHEN 'PendingNew' THEN 'pending_new'
    WHEN 'Accepted' THEN 'accepted'
    WHEN 'PartiallyFilled' THEN 'partially_filled'
    WHEN 'Filled' THEN 'filled'
    WHEN 'Canceled' THEN 'canceled'
    WHEN 'Rejected' THEN 'rejected'
    WHEN 'Expired' THEN 'expired'
    ELSE status END;
UPDATE fills SET side = trim(both '"' from side);

ALTER TABLE orders
    ALTER COLUMN filled_qty TYPE NUMERIC USING filled_qty::numeric,
    ALTER COLUMN body TYPE JSONB USING body::jsonb;
ALTER TABLE fills
    ALTER COLUMN price TYPE NUMERIC USING price::numeric,
    ALTER COLUMN qty TYPE NUMERIC USING qty::numeric,
    ALTER COLUMN body TYPE JSONB USING body::jsonb;
ALTER TABLE positions_snapshots
    ALTER COLUMN qty TYPE NUMERIC USING qty::numeric,
    ALTER COLUMN body TYPE JSONB USING body::jsonb;
ALTER TABLE signals ALTER COLUMN features TYPE JSONB USING features::jsonb;
ALTER TABLE portfolios ALTER COLUMN config TYPE JSONB USING config::jsonb;
ALTER TABLE alerts ALTER COLUMN body TYPE JSONB USING body::jsonb;
ALTER TABLE dead_letters ALTER COLUMN body TYPE JSONB USING body::jsonb;
ALTER TABLE strategy_events ALTER COLUMN body TYPE JSONB USING body::jsonb;

ALTER TABLE orders ADD CONSTRAINT orders_status_canonical CHECK (status IN
    ('pending_new', 'accepted', 'partially_filled', 'filled', 'canceled', 'rejected', 'expired'));
ALTER TABLE fills ADD CONSTRAINT fills_side_canonical CHECK (side IN ('BUY', 'SELL'));
ALTER TABLE portfolios ADD CONSTRAINT portfolios_status_canonical
    CHECK (status IN ('active', 'paused', 'stopped'));
