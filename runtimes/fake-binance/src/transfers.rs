//! Wallet transfers on the fake (`POST /sapi/v1/asset/transfer`, `GET` for the history) and
//! the settled funding rates (`GET /fapi/v1/fundingRate`).
//!
//! A fake serves one product; the account's other wallet (spot on a USDⓈ-M fake, USDⓈ-M on
//! a spot fake) is a plain balance map. A transfer into the product's wallet is a deposit in
//! the matching core's account, announced like Binance does (`ACCOUNT_UPDATE` with reason
//! `DEPOSIT` / `WITHDRAW` on USDⓈ-M, `balanceUpdate` on spot); out of it, it needs the
//! balance (USDⓈ-M: the available margin). Refusals use Binance's `-5013`.

use crate::config::FakeProduct;
use crate::faults::OrderFault;
use crate::orders::Args;
pub use crate::records::TransferEntry;
use crate::state::{now_ms, Exchange};
use crate::wire::{dec, ApiError};
use crate::Fake;
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::value::Amount;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn insufficient() -> ApiError {
    ApiError::new(400, -5013, "Asset transfer failed: insufficient balance")
}

/// The product wallet's balance of `asset` that may leave it.
fn product_available(ex: &Exchange, account: usize, asset: &str) -> Decimal {
    let Some(books) = ex.books(account) else {
        return Decimal::ZERO;
    };
    let balance = books
        .balances
        .get(&Asset::new(asset))
        .map_or(Decimal::ZERO, |a| a.get());
    match ex.product {
        FakeProduct::Spot => balance,
        FakeProduct::Usdm => balance.min(books.available_margin().get()),
    }
}

fn announce(ex: &mut Exchange, account: usize, asset: &str, delta: Decimal, now: i64) {
    let frame = match ex.product {
        FakeProduct::Usdm => {
            let balance = ex
                .books(account)
                .and_then(|b| b.balances.get(&Asset::new(asset)))
                .map_or(Decimal::ZERO, |a| a.get());
            let reason = if delta > Decimal::ZERO {
                "DEPOSIT"
            } else {
                "WITHDRAW"
            };
            json!({"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": reason,
                   "B": [{"a": asset, "wb": dec(balance), "cw": dec(balance), "bc": dec(delta)}], "P": []}})
        }
        FakeProduct::Spot => json!({"subscriptionId": 0, "event":
            {"e": "balanceUpdate", "E": now, "a": asset, "d": dec(delta), "T": now}}),
    };
    ex.send_to(account, &frame.to_string());
}

/// Moves the money; Binance's id.
fn apply(
    ex: &mut Exchange,
    account: usize,
    kind: &str,
    asset: &str,
    amount: Decimal,
) -> Result<i64, ApiError> {
    // Into the product's wallet or out of it.
    let into_product = match (ex.product, kind) {
        (FakeProduct::Usdm, "MAIN_UMFUTURE") | (FakeProduct::Spot, "UMFUTURE_MAIN") => true,
        (FakeProduct::Usdm, "UMFUTURE_MAIN") | (FakeProduct::Spot, "MAIN_UMFUTURE") => false,
        _ => {
            return Err(ApiError::new(
                400,
                -1100,
                "Illegal characters found in parameter 'type'.",
            ))
        }
    };
    let portfolio = PortfolioId::new(format!("acct-{account}"));
    let other = ex.other_wallets.entry(account).or_default();
    let held = other.get(asset).copied().unwrap_or_default();
    if into_product {
        if held < amount {
            return Err(insufficient());
        }
        other.insert(asset.to_owned(), held - amount);
        ex.sim
            .deposit(&portfolio, Asset::new(asset), Amount::new(amount));
    } else {
        if product_available(ex, account, asset) < amount {
            return Err(insufficient());
        }
        ex.sim
            .deposit(&portfolio, Asset::new(asset), Amount::new(-amount));
        *ex.other_wallets
            .entry(account)
            .or_default()
            .entry(asset.to_owned())
            .or_default() += amount;
    }
    let now = now_ms();
    ex.next_income_id += 1;
    let tran_id = ex.next_income_id;
    ex.transfers.push(TransferEntry {
        account,
        kind: kind.to_owned(),
        asset: asset.to_owned(),
        amount,
        tran_id,
        time: now,
    });
    let delta = if into_product { amount } else { -amount };
    announce(ex, account, asset, delta, now);
    Ok(tran_id)
}

/// `POST /sapi/v1/asset/transfer`.
pub(crate) async fn transfer(
    fake: &Fake,
    account: usize,
    args: &Args<'_>,
) -> Result<Value, ApiError> {
    let kind = args.need("type")?.to_owned();
    let asset = args.need("asset")?.to_owned();
    let amount = args.need_decimal("amount")?;
    if amount <= Decimal::ZERO {
        return Err(ApiError::new(
            400,
            -1100,
            "Illegal characters found in parameter 'amount'.",
        ));
    }
    let fault = fake.take_transfer_fault();
    if let Some(OrderFault::Swallowed(delay)) = fault {
        tokio::time::sleep(delay).await;
        return Err(ApiError::new(503, -1007, "Timeout waiting for response from backend server. Send status unknown; execution status unknown."));
    }
    let tran_id = apply(&mut fake.exchange(), account, &kind, &asset, amount)?;
    match fault {
        Some(OrderFault::Unknown5xx) => {
            return Err(ApiError::new(
                503,
                -1007,
                "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
            ))
        }
        Some(OrderFault::LoseResponse(delay)) => tokio::time::sleep(delay).await,
        Some(OrderFault::Swallowed(_)) | None => {}
    }
    Ok(json!({"tranId": tran_id}))
}

/// `GET /sapi/v1/asset/transfer`: `type` required; `startTime`/`endTime`; `size` ≤ 100.
pub(crate) fn history(fake: &Fake, account: usize, args: &Args<'_>) -> Result<Value, ApiError> {
    let kind = args.need("type")?;
    let number = |key: &str| args.get(key).and_then(|v| v.parse::<i64>().ok());
    let start = number("startTime").unwrap_or(now_ms() - 7 * 86_400_000);
    let end = number("endTime").unwrap_or(i64::MAX);
    let size = usize::try_from(number("size").unwrap_or(10).clamp(1, 100)).unwrap_or(10);
    let ex = fake.exchange();
    let rows: Vec<Value> = ex
        .transfers
        .iter()
        .filter(|t| t.account == account && t.kind == kind && (start..=end).contains(&t.time))
        .map(|t| {
            json!({"asset": t.asset, "amount": t.amount.normalize().to_string(), "type": t.kind,
                   "status": "CONFIRMED", "tranId": t.tran_id, "timestamp": t.time})
        })
        .collect();
    let total = rows.len();
    // Binance lists the newest first.
    let page: Vec<Value> = rows.into_iter().rev().take(size).collect();
    Ok(if total == 0 {
        json!({"total": 0})
    } else {
        json!({"total": total, "rows": page})
    })
}

/// `GET /fapi/v1/fundingRate`: settled rates of `symbol`, oldest first, `limit` ≤ 1000.
pub(crate) fn settled_rates(fake: &Fake, args: &Args<'_>) -> Value {
    let number = |key: &str| args.get(key).and_then(|v| v.parse::<i64>().ok());
    let start = number("startTime").unwrap_or(0);
    let end = number("endTime").unwrap_or(i64::MAX);
    let limit = usize::try_from(number("limit").unwrap_or(100).clamp(1, 1000)).unwrap_or(100);
    let ex = fake.exchange();
    Value::Array(
        ex.settled_rates
            .iter()
            .filter(|(s, t, ..)| {
                args.get("symbol").is_none_or(|want| want == s) && (start..=end).contains(t)
            })
            .take(limit)
            .map(|(s, t, rate, mark)| {
                json!({"symbol": s, "fundingTime": t, "fundingRate": rate.normalize().to_string(),
                       "markPrice": dec(*mark)})
            })
            .collect(),
    )
}
