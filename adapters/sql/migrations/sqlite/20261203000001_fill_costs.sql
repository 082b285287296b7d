-- Transaction-cost fields of fills (see the PostgreSQL migration of the same name). Decimals
-- stay exact TEXT, JSON stays TEXT.
ALTER TABLE fills ADD COLUMN liquidity TEXT;
ALTER TABLE fills ADD COLUMN fee TEXT;
ALTER TABLE fills ADD COLUMN fee_asset TEXT;
ALTER TABLE fills ADD COLUMN sent_at INTEGER;
ALTER TABLE fills ADD COLUMN ack_ms INTEGER;
ALTER TABLE fills ADD COLUMN fill_ms INTEGER;
ALTER TABLE fills ADD COLUMN mid_at_send TEXT;
ALTER TABLE fills ADD COLUMN slippage_bps TEXT;
ALTER TABLE fills ADD COLUMN costs TEXT;
UPDATE fills SET
    liquidity = json_extract(body, '$.liquidity'),
    fee = json_extract(body, '$.fee.amount'),
    fee_asset = json_extract(body, '$.fee.asset');
