//! Funding records, wallet transfers with their state history, and treasury locks
//! (`funding_records`, `treasury_transfers`, `treasury_transfer_states`, `treasury_locks`).

use crate::{db_error, inserted, Db, SqlStore};
use async_trait::async_trait;
use chimera_kernel::ids::{Asset, Symbol};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_ports::{
    FundingRecord, Inserted, PortError, PortResult, TransferDirection, TransferRecord,
    TransferState, TransferTransition, TreasuryRepository,
};
use std::time::Duration;

type FundingRow = (String, String, i64, Option<String>, String, String, i64);
type TransferRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    String,
    i64,
    i64,
);

const TRANSFER_COLUMNS: &str = "transfer_id, account, direction, asset, amount, state, \
     venue_tran_id, detail, created_at, updated_at";

fn bad(what: &str, text: &str) -> PortError {
    PortError::Codec {
        message: format!("treasury: unreadable {what} `{text}`"),
        bytes: text.as_bytes().to_vec(),
    }
}

fn decimal(what: &str, text: &str) -> PortResult<Decimal> {
    text.parse::<Decimal>().map_err(|_| bad(what, text))
}

fn funding(row: FundingRow) -> PortResult<FundingRecord> {
    let (account, symbol, time, rate, amount, asset, venue_id) = row;
    Ok(FundingRecord {
        account,
        symbol: Symbol::new(symbol),
        funding_time: Timestamp(time),
        rate: rate.as_deref().map(|r| decimal("rate", r)).transpose()?,
        amount: Amount::new(decimal("amount", &amount)?),
        asset: Asset::new(asset),
        venue_id,
    })
}

fn transfer(row: TransferRow) -> PortResult<TransferRecord> {
    let (id, account, direction, asset, amount, state, venue, detail, created, updated) = row;
    Ok(TransferRecord {
        direction: TransferDirection::parse(&direction)
            .ok_or_else(|| bad("direction", &direction))?,
        state: TransferState::parse(&state).ok_or_else(|| bad("state", &state))?,
        transfer_id: id,
        account,
        asset: Asset::new(asset),
        amount: Amount::new(decimal("amount", &amount)?),
        venue_tran_id: venue,
        detail,
        created_at: Timestamp(created),
        updated_at: Timestamp(updated),
    })
}

#[async_trait]
impl TreasuryRepository for SqlStore {
    async fn record_funding(&self, r: &FundingRecord) -> PortResult<Inserted> {
        let done = sqlx::query::<Db>(
            "INSERT INTO funding_records (account, symbol, funding_time, rate, amount, asset, \
             venue_id) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (account, symbol, funding_time) DO NOTHING",
        )
        .bind(r.account.clone())
        .bind(r.symbol.as_str().to_owned())
        .bind(r.funding_time.0)
        .bind(r.rate.map(|d| d.to_string()))
        .bind(r.amount.get().to_string())
        .bind(r.asset.as_str().to_owned())
        .bind(r.venue_id)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("record funding", e))?;
        Ok(inserted(done.rows_affected()))
    }

    async fn funding_records(
        &self,
        account: &str,
        since: Timestamp,
    ) -> PortResult<Vec<FundingRecord>> {
        sqlx::query_as::<Db, FundingRow>(
            "SELECT account, symbol, funding_time, rate, amount, asset, venue_id \
             FROM funding_records WHERE account = $1 AND funding_time >= $2 \
             ORDER BY funding_time, symbol",
        )
        .bind(account.to_owned())
        .bind(since.0)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("read funding", e))?
        .into_iter()
        .map(funding)
        .collect()
    }

    async fn create_transfer(&self, t: &TransferRecord) -> PortResult<Inserted> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| db_error("create transfer", e))?;
        let sql = format!(
            "INSERT INTO treasury_transfers ({TRANSFER_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (transfer_id) DO NOTHING"
        );
        let done = sqlx::query::<Db>(&sql)
            .bind(t.transfer_id.clone())
            .bind(t.account.clone())
            .bind(t.direction.as_str())
            .bind(t.asset.as_str().to_owned())
            .bind(t.amount.get().to_string())
            .bind(t.state.as_str())
            .bind(t.venue_tran_id)
            .bind(t.detail.clone())
            .bind(t.created_at.0)
            .bind(t.updated_at.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("create transfer", e))?;
        if done.rows_affected() > 0 {
            sqlx::query::<Db>(
                "INSERT INTO treasury_transfer_states (transfer_id, state, at, detail) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(t.transfer_id.clone())
            .bind(t.state.as_str())
            .bind(t.created_at.0)
            .bind(t.detail.clone())
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error("create transfer", e))?;
        }
        tx.commit()
            .await
            .map_err(|e| db_error("create transfer", e))?;
        Ok(inserted(done.rows_affected()))
    }

    async fn get_transfer(&self, transfer_id: &str) -> PortResult<Option<TransferRecord>> {
        let sql =
            format!("SELECT {TRANSFER_COLUMNS} FROM treasury_transfers WHERE transfer_id = $1");
        sqlx::query_as::<Db, TransferRow>(&sql)
            .bind(transfer_id.to_owned())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("read transfer", e))?
            .map(transfer)
            .transpose()
    }

    async fn transfer_by_venue_id(&self, venue_tran_id: i64) -> PortResult<Option<TransferRecord>> {
        let sql =
            format!("SELECT {TRANSFER_COLUMNS} FROM treasury_transfers WHERE venue_tran_id = $1");
        sqlx::query_as::<Db, TransferRow>(&sql)
            .bind(venue_tran_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error("read transfer", e))?
            .map(transfer)
            .transpose()
    }

    async fn transition(
        &self,
        transfer_id: &str,
        from: TransferState,
        to: TransferState,
        venue_tran_id: Option<i64>,
        detail: &str,
        at: Timestamp,
    ) -> PortResult<bool> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(|e| db_error("transfer transition", e))?;
        let done = sqlx::query::<Db>(
            "UPDATE treasury_transfers SET state = $1, \
             venue_tran_id = COALESCE($2, venue_tran_id), detail = $3, updated_at = $4 \
             WHERE transfer_id = $5 AND state = $6",
        )
        .bind(to.as_str())
        .bind(venue_tran_id)
        .bind(detail.to_owned())
        .bind(at.0)
        .bind(transfer_id.to_owned())
        .bind(from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error("transfer transition", e))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query::<Db>(
            "INSERT INTO treasury_transfer_states (transfer_id, state, at, detail) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(transfer_id.to_owned())
        .bind(to.as_str())
        .bind(at.0)
        .bind(detail.to_owned())
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error("transfer transition", e))?;
        tx.commit()
            .await
            .map_err(|e| db_error("transfer transition", e))?;
        Ok(true)
    }

    async fn transfer_transitions(&self, transfer_id: &str) -> PortResult<Vec<TransferTransition>> {
        let rows = sqlx::query_as::<Db, (String, i64, String)>(
            "SELECT state, at, detail FROM treasury_transfer_states WHERE transfer_id = $1 \
             ORDER BY seq",
        )
        .bind(transfer_id.to_owned())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("read transfer history", e))?;
        rows.into_iter()
            .map(|(state, at, detail)| {
                Ok(TransferTransition {
                    transfer_id: transfer_id.to_owned(),
                    state: TransferState::parse(&state).ok_or_else(|| bad("state", &state))?,
                    at: Timestamp(at),
                    detail,
                })
            })
            .collect()
    }

    async fn take_lock(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> PortResult<bool> {
        let until = now.0 + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let done = sqlx::query::<Db>(
            "INSERT INTO treasury_locks (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE treasury_locks.holder = excluded.holder OR treasury_locks.expires_at <= $4",
        )
        .bind(name.to_owned())
        .bind(holder.to_owned())
        .bind(until)
        .bind(now.0)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("take treasury lock", e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_lock(&self, name: &str, holder: &str) -> PortResult<bool> {
        let done = sqlx::query::<Db>("DELETE FROM treasury_locks WHERE name = $1 AND holder = $2")
            .bind(name.to_owned())
            .bind(holder.to_owned())
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("release treasury lock", e))?;
        Ok(done.rows_affected() > 0)
    }
}
