//! [`BinanceGatewayVenue`]: the Binance connector as the gateway drives it.
//!
//! Like [`crate::PlainVenue`] (Binance keeps its own state and clock; the connector never
//! sends an order twice and resolves unknown outcomes itself), plus, each turn: user-data
//! frames the connector could not decode go to the dead-letter topic and table with their
//! bytes, and a rate-limit ban (418, or 429 with `Retry-After`) raises a critical alert when
//! it starts. An intent for a portfolio no configured account trades for is refused before
//! it reaches Binance (the gateway alerts `unknown_portfolio`). Wallet transfers and funding
//! records are the [`crate::treasury_desk`]'s.

use crate::treasury_desk::TreasuryDesk;
use crate::venue::GatewayVenue;
use async_trait::async_trait;
use chimera_binance::{BinanceConfig, BinanceTreasury, BinanceVenue};
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::order::OrderIntent;
use chimera_messages::{AlertCode, AlertLevel, DecodeError};
use chimera_ports::{Delivery, ExecutionVenue};
use chimera_runtime::runtime::{fatal, Runtime};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// Binance behind the gateway.
pub struct BinanceGatewayVenue {
    venue: BinanceVenue,
    portfolios: BTreeSet<PortfolioId>,
    /// Raises the ban alerts (a request waiting out a ban holds the gateway's loop).
    ban_watch: Option<AbortOnDrop>,
    /// Dead letters written, numbering the next one.
    dead_letters: i64,
    desk: TreasuryDesk,
}

impl BinanceGatewayVenue {
    /// Connects to Binance with `config` (keys, server time, exchangeInfo, user streams).
    ///
    /// # Errors
    /// A bad config or key, or Binance unreachable.
    pub async fn connect(config: &BinanceConfig) -> anyhow::Result<Self> {
        let venue = BinanceVenue::connect(config.clone()).await?;
        let treasury = BinanceTreasury::connect(config).await?;
        Ok(Self {
            desk: TreasuryDesk::new(treasury, Duration::from_millis(config.funding_poll_ms)),
            portfolios: venue.portfolios().into_iter().collect(),
            venue,
            ban_watch: None,
            dead_letters: 0,
        })
    }

    /// The connector.
    pub fn connector(&self) -> &BinanceVenue {
        &self.venue
    }
}

#[async_trait]
impl GatewayVenue for BinanceGatewayVenue {
    fn trading(&self) -> &dyn ExecutionVenue {
        &self.venue
    }

    async fn turn(&mut self, rt: &Arc<Runtime>) -> anyhow::Result<usize> {
        let undecodable = self.venue.take_undecodable();
        let handled = undecodable.len() + self.desk.turn(rt).await?;
        for bad in undecodable {
            self.dead_letters += 1;
            let delivery = Delivery {
                topic: "venue:binance".into(),
                key: bad.what.as_str().into(),
                payload: bad.bytes.clone().into(),
                partition: 0,
                offset: self.dead_letters,
                shared: None,
            };
            let error = DecodeError {
                reason: format!("{}: {}", bad.what, bad.message),
                bytes: bad.bytes,
            };
            rt.dead_letter(&delivery, &error)
                .await
                .map_err(|e| fatal("dead letter", &e))?;
        }
        if self.ban_watch.is_none() {
            let (probe, treasury) = (self.venue.ban_probe(), self.desk.treasury());
            self.ban_watch = Some(watch_bans(Arc::clone(rt), move || {
                probe.banned().or_else(|| treasury.banned())
            }));
        }
        Ok(handled)
    }

    async fn prepare(&mut self, _: &Runtime, intent: &OrderIntent) -> anyhow::Result<bool> {
        Ok(self.portfolios.contains(&intent.portfolio_id))
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Every 100 ms: a new ban (429 or 418) met by any of the gateway's Binance clients (trading,
/// treasury) raises one critical `venue_banned` alert.
fn watch_bans(
    rt: Arc<Runtime>,
    banned: impl Fn() -> Option<(i64, u16)> + Send + 'static,
) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        let mut alerted: Option<i64> = None;
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            match banned() {
                Some((until, status)) if alerted != Some(until) => {
                    alerted = Some(until);
                    rt.alert(
                        AlertLevel::Critical,
                        AlertCode::VenueBanned,
                        format!(
                            "Binance answered HTTP {status}: no request is sent until {until} (epoch ms)"
                        ),
                        None,
                    );
                }
                Some(_) => {}
                None => alerted = None,
            }
        }
    }))
}
