//! `chimera-fake-binance`: the fake Binance as a server, for trying the connector offline.
//!
//! ```text
//! chimera-fake-binance --product usdm --listen 127.0.0.1:9300 \
//!     --account MYKEY:MYSECRET:USDT=100000 \
//!     --capture ../shared/data/binance/usdm/btcusdt_20240808.gz --speed 1
//! ```
//!
//! With `--capture`, the captured market is replayed on the streams (re-stamped to now) and
//! drives the matching; without, prices are set through `POST /fake/quote`.

use anyhow::Context as _;
use chimera_fake_binance::{Fake, FakeConfig, FakeProduct};
use clap::Parser;
use rust_decimal::Decimal;

#[derive(Parser)]
#[command(about = "A wire-level fake of Binance spot / USD-M for offline tests")]
struct Args {
    /// `spot` or `usdm`.
    #[arg(long, default_value = "usdm")]
    product: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9300")]
    listen: String,
    /// An HMAC account: `API_KEY:SECRET[:ASSET=AMOUNT,...]` (repeatable).
    #[arg(long = "account")]
    accounts: Vec<String>,
    /// Request weight per minute (default: Binance's for the product).
    #[arg(long)]
    weight_per_minute: Option<u64>,
    /// A capture file to replay as the market (repeatable; `<ns> <json>` lines, gzipped).
    #[arg(long = "capture")]
    captures: Vec<std::path::PathBuf>,
    /// Replay speed: 1 = real time, 0 = as fast as possible.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// USD-M funding rate announced and settled.
    #[arg(long, default_value = "0.0001")]
    funding_rate: Decimal,
    /// USD-M funding interval, ms.
    #[arg(long, default_value_t = 8 * 3_600_000)]
    funding_interval_ms: i64,
}

/// An `--account` argument, read.
struct AccountSpec {
    key: String,
    secret: String,
    deposits: Vec<(String, Decimal)>,
}

fn account(spec: &str) -> anyhow::Result<AccountSpec> {
    let mut parts = spec.splitn(3, ':');
    let key = parts
        .next()
        .filter(|k| !k.is_empty())
        .context("--account: API key missing")?;
    let secret = parts
        .next()
        .filter(|s| !s.is_empty())
        .context("--account: secret missing")?;
    let deposits = parts
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| {
            let (asset, amount) = d
                .split_once('=')
                .context("--account: deposits are ASSET=AMOUNT")?;
            Ok((
                asset.to_owned(),
                amount
                    .parse::<Decimal>()
                    .with_context(|| format!("--account: `{amount}` is not a number"))?,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(AccountSpec {
        key: key.to_owned(),
        secret: secret.to_owned(),
        deposits,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args = Args::parse();
    let product = match args.product.as_str() {
        "spot" => FakeProduct::Spot,
        "usdm" => FakeProduct::Usdm,
        other => anyhow::bail!("--product: `{other}` is not spot or usdm"),
    };
    let mut config = FakeConfig::new(product);
    if let Some(w) = args.weight_per_minute {
        config.weight_per_minute = w;
    }
    for path in &args.captures {
        anyhow::ensure!(
            path.is_file(),
            "--capture: {} is not a file",
            path.display()
        );
    }
    anyhow::ensure!(
        args.speed >= 0.0 && args.speed.is_finite(),
        "--speed: must be 0 or more"
    );
    anyhow::ensure!(
        args.funding_interval_ms > 0,
        "--funding-interval-ms: must be positive"
    );
    config.captures.clone_from(&args.captures);
    config.replay_speed = args.speed;
    config.funding_rate = args.funding_rate;
    config.funding_interval_ms = args.funding_interval_ms;
    for spec in &args.accounts {
        let a = account(spec)?;
        let deposits: Vec<(&str, Decimal)> = a
            .deposits
            .iter()
            .map(|(asset, d)| (asset.as_str(), *d))
            .collect();
        config = config.with_hmac_account(&a.key, &a.secret, &deposits);
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!(
        "fake Binance ({}) on http://{}",
        args.product,
        listener.local_addr()?
    );
    let fake = Fake::new(config);
    let server = fake.serve(listener);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = server => {}
    }
    Ok(())
}
