//! A fake Binance on a loopback port and a connector configured for it.

#![allow(dead_code, reason = "each test file uses part of the support module")]

use chimera_binance::{AccountConfig, BinanceConfig, BinanceVenue, Product};
use chimera_fake_binance::{Fake, FakeConfig, FakeProduct};
use chimera_kernel::event::ExecutionReport;
use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce};
use chimera_kernel::testing::qty;
use chimera_kernel::time::Timestamp;
use chimera_ports::ExecutionVenue;
use rust_decimal::Decimal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A fake and a connector trading on it.
pub(crate) struct Setup {
    pub(crate) fake: Arc<Fake>,
    pub(crate) base: String,
    pub(crate) venue: BinanceVenue,
    pub(crate) config: BinanceConfig,
    _server: tokio::task::JoinHandle<()>,
    _dir: TempDir,
}

/// A temporary directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!(
        "chimera-binance-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    TempDir(dir)
}

/// Portfolios and their starting USDT (`None`: an empty account).
pub(crate) async fn setup(product: Product, portfolios: &[(&str, Option<Decimal>)]) -> Setup {
    setup_with(product, portfolios, |c| c).await
}

/// As [`setup`], with the connector's config adjusted by `tweak`.
pub(crate) async fn setup_with(
    product: Product,
    portfolios: &[(&str, Option<Decimal>)],
    tweak: impl FnOnce(BinanceConfig) -> BinanceConfig,
) -> Setup {
    setup_full(product, portfolios, |f| f, tweak).await
}

/// As [`setup_with`], with the fake's config adjusted by `fake_tweak` too.
pub(crate) async fn setup_full(
    product: Product,
    portfolios: &[(&str, Option<Decimal>)],
    fake_tweak: impl FnOnce(FakeConfig) -> FakeConfig,
    tweak: impl FnOnce(BinanceConfig) -> BinanceConfig,
) -> Setup {
    let fake_product = match product {
        Product::Spot => FakeProduct::Spot,
        Product::Usdm => FakeProduct::Usdm,
    };
    let dir = temp_dir(portfolios.first().map_or("x", |p| p.0));
    let mut fake_config = FakeConfig::new(fake_product);
    let mut config = BinanceConfig::custom(product, "http://placeholder");
    for (n, (portfolio, usdt)) in portfolios.iter().enumerate() {
        let key = format!("key{n}{}", "k".repeat(40));
        let secret = format!("secret{n}{}", "s".repeat(40));
        let deposits: Vec<(&str, Decimal)> = usdt.iter().map(|d| ("USDT", *d)).collect();
        fake_config = fake_config.with_hmac_account(&key, &secret, &deposits);
        let key_file = dir.0.join(format!("key{n}"));
        let secret_file = dir.0.join(format!("secret{n}"));
        std::fs::write(&key_file, &key).expect("key file");
        std::fs::write(&secret_file, &secret).expect("secret file");
        config.accounts.push(AccountConfig {
            name: None,
            portfolios: vec![(*portfolio).to_owned()],
            api_key_env: None,
            api_key_file: Some(key_file.display().to_string()),
            secret_env: None,
            secret_file: Some(secret_file.display().to_string()),
            key_type: chimera_binance::KeyType::Hmac,
        });
    }
    let (fake, base, server) = Fake::start(fake_tweak(fake_config))
        .await
        .expect("fake starts");
    let ws = base.replacen("http", "ws", 1);
    config.rest_url = Some(base.clone());
    config.stream_url = Some(ws.clone());
    config.ws_api_url = Some(format!("{ws}/ws-api/v3"));
    let config = tweak(config);
    let venue = BinanceVenue::connect(config.clone())
        .await
        .expect("connects");
    Setup {
        fake,
        base,
        venue,
        config,
        _server: server,
        _dir: dir,
    }
}

/// Order `n` of `portfolio`: 0.1 BTCUSDT, good till canceled, created now.
pub(crate) fn intent(portfolio: &str, n: u64, side: Side, kind: OrderKind) -> OrderIntent {
    let portfolio = PortfolioId::new(portfolio);
    let intent_id = IntentId::for_portfolio(&portfolio, n);
    OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: portfolio,
        symbol: Symbol::new("BTCUSDT"),
        side,
        qty: qty(Decimal::new(1, 1)),
        kind,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(chimera_binance::rest::local_ms()),
        tag: "".into(),
    }
}

/// Reports until none came for `quiet`.
pub(crate) async fn reports(venue: &dyn ExecutionVenue, quiet: Duration) -> Vec<ExecutionReport> {
    let mut out = Vec::new();
    while let Some(r) = venue.next_report(quiet).await.expect("next_report") {
        out.push(r);
    }
    out
}

/// The `n` reports a step is known to cause, then any more until none came for `quiet`.
///
/// Waiting for the expected count first, up to [`SLOW`] for each, keeps a slow or busy
/// machine from cutting the step short (a report later than `quiet` would otherwise fall into
/// the next step's reports); the quiet wait after it still catches a report too many.
pub(crate) async fn reports_n(
    venue: &dyn ExecutionVenue,
    n: usize,
    quiet: Duration,
) -> Vec<ExecutionReport> {
    let mut out = Vec::new();
    while out.len() < n {
        match venue.next_report(SLOW).await.expect("next_report") {
            Some(r) => out.push(r),
            None => break,
        }
    }
    out.extend(reports(venue, quiet).await);
    out
}

/// How long [`reports_n`] waits for each report it expects.
pub(crate) const SLOW: Duration = Duration::from_secs(10);

/// The kinds of `reports`, in order.
pub(crate) fn kinds(reports: &[ExecutionReport]) -> Vec<&'static str> {
    reports.iter().map(|r| r.kind.name()).collect()
}
