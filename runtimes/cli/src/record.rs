//! `chimera record`: an exchange's public market data into a gzip capture file
//! (`<receive ns> <raw JSON>` per line, the format of `../shared/data/binance`), until
//! `--duration-secs` or Ctrl-C / SIGTERM. The file is finished (gzip trailer written) either
//! way, so a recording stopped by hand is complete.

use crate::args::RecordArgs;
use anyhow::Context as _;
use chimera_binance::{BinanceConfig, BinanceRecorder};
use chimera_live::runtime::{shutdown_pair, trigger_on_signals};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write as _;
use std::time::Duration;

/// The connector configuration the arguments describe.
fn binance_config(args: &RecordArgs) -> anyhow::Result<BinanceConfig> {
    let mut table = toml::Table::new();
    let mut set = |key: &str, value: toml::Value| {
        table.insert(key.to_owned(), value);
    };
    set("product", args.product.clone().into());
    set("environment", args.environment.clone().into());
    if let Some(url) = &args.rest_url {
        set("rest_url", url.clone().into());
    }
    if let Some(url) = &args.stream_url {
        set("stream_url", url.clone().into());
    }
    if let Some(speed) = args.depth_speed_ms {
        set("depth_speed_ms", i64::try_from(speed)?.into());
    } else if args.product == "usdm" {
        set("depth_speed_ms", 0.into());
    }
    set(
        "symbols",
        toml::Value::Array(args.symbols.iter().map(|s| s.clone().into()).collect()),
    );
    let config: BinanceConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| anyhow::anyhow!("{}", e.message()))?;
    Ok(config)
}

/// Records until the duration passes or a signal comes.
///
/// # Errors
/// Bad arguments, an unwritable output file, or the exchange unreachable at the start.
pub(crate) fn run(args: &RecordArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.venue == "binance",
        "--venue: `{}` is not supported (binance)",
        args.venue
    );
    let config = binance_config(args)?;
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut out = flate2::write::GzEncoder::new(
        std::io::BufWriter::new(file),
        flate2::Compression::default(),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let lines = runtime.block_on(async {
        let mut recorder = BinanceRecorder::connect(&config)?;
        let (trigger, mut shutdown) = shutdown_pair();
        trigger_on_signals(trigger);
        let deadline = async {
            match args.duration_secs {
                Some(secs) => tokio::time::sleep(Duration::from_secs(secs)).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let bar = ProgressBar::new_spinner();
        bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}")?);
        bar.enable_steady_tick(Duration::from_millis(200));
        let mut lines = 0_u64;
        let mut bytes = 0_u64;
        loop {
            let line = tokio::select! {
                line = recorder.next_line() => line,
                () = &mut deadline => None,
                () = shutdown.wait() => None,
            };
            let Some(line) = line else { break };
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            lines += 1;
            bytes += line.len() as u64 + 1;
            if lines.is_multiple_of(100) {
                bar.set_message(format!(
                    "{lines} messages, {:.1} MB raw → {}",
                    bytes as f64 / 1e6,
                    args.out.display()
                ));
            }
        }
        bar.finish_and_clear();
        anyhow::Ok(lines)
    })?;
    out.finish()?.flush()?;
    println!("recorded {lines} messages to {}", args.out.display());
    Ok(())
}
