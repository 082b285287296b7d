-- Transaction-cost fields of fills, as typed columns one can query (slippage by portfolio,
-- maker share, fees by asset, venue latency), and the book at send as JSON. Fills recorded
-- before this migration get liquidity and fee from their body; their costs stay NULL.
ALTER TABLE fills
    ADD COLUMN liquidity TEXT,
    ADD COLUMN fee NUMERIC,
    ADD COLUMN fee_asset TEXT,
    ADD COLUMN sent_at BIGINT,
    ADD COLUMN ack_ms BIGINT,
    ADD COLUMN fill_ms BIGINT,
    ADD COLUMN mid_at_send NUMERIC,
    ADD COLUMN slippage_bps NUMERIC,
    ADD COLUMN costs JSONB;
UPDATE fills SET
    liquidity = body->>'liquidity',
    fee = (body->'fee'->>'amount')::numeric,
    fee_asset = body->'fee'->>'asset';
ALTER TABLE fills ADD CONSTRAINT fills_liquidity_canonical
    CHECK (liquidity IS NULL OR liquidity IN ('maker', 'taker'));
