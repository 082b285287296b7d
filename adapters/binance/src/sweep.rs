//! The open-orders sweep: a safety net for user-data frames lost while the connection stays
//! up (no reconnect, so no recovery runs). Every `sweep_ms`, each account's working orders are
//! compared with Binance's open orders (one request per symbol); an order missing from them,
//! or whose executed quantity differs from what was reported, is looked up by client order id,
//! which reports what was missed (fills by trade id, so never twice). Conditional orders on
//! the USDⓈ-M algo endpoint are looked up directly.

use crate::codec::rest::OrderBody;
use crate::paths;
use crate::rest::{Auth, Method};
use crate::sign::Params;
use crate::venue::{Account, Inner};
use chimera_kernel::ids::Symbol;
use std::collections::{BTreeSet, HashMap};

impl Inner {
    /// Sweeps `account`'s working orders (see the module docs). Failures are logged and
    /// left to the next sweep.
    pub(crate) async fn sweep(&self, account: &Account) {
        let working = self.lock_tracker().working(&account.portfolios);
        if working.is_empty() {
            return;
        }
        let symbols: BTreeSet<Symbol> = working.iter().map(|(_, s)| s.clone()).collect();
        let mut open: HashMap<String, OrderBody> = HashMap::new();
        for symbol in symbols {
            let listed = self
                .rest
                .call::<Vec<OrderBody>>(
                    Method::Get,
                    self.paths.open_orders,
                    Params::new().with("symbol", symbol.as_str()),
                    Auth::Signed(&account.creds),
                    paths::cost(self.product, 6, 1),
                )
                .await;
            match listed {
                Ok(bodies) => {
                    open.extend(bodies.into_iter().map(|b| (b.client_order_id.clone(), b)));
                }
                Err(e) => {
                    tracing::warn!(%symbol, error = %e, "open-orders sweep: not this time");
                    return;
                }
            }
        }
        for (id, symbol) in working {
            let (known, algo) = {
                let tracker = self.lock_tracker();
                let track = tracker.get(&id);
                (
                    track.map(|t| (t.filled, t.accepted)),
                    track.is_some_and(|t| t.algo),
                )
            };
            let in_step = match (open.get(id.as_str()), known) {
                (Some(body), Some((filled, accepted))) => {
                    accepted && body.executed_qty.unwrap_or_default() == filled
                }
                _ => false,
            };
            if in_step && !algo {
                continue;
            }
            if let Err(e) = self.look_up(account, &id, &symbol).await {
                tracing::warn!(%id, error = %e, "open-orders sweep: lookup failed");
            }
        }
    }
}
