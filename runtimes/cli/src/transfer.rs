//! `chimera transfer`: a wallet transfer run from this process (the gateway's venue keys and
//! limits, the database's records), and the argument checks `chimera ctl transfer` shares.

use crate::args::{DirectTransferArgs, TransferArgs};
use chimera_binance::BinanceTreasury;
use chimera_live::config::{self, VenueKind};
use chimera_live::treasury::{run_transfer, TransferRequest};
use chimera_ports::{TransferDirection, TreasuryRepository};
use rust_decimal::Decimal;

/// The request the arguments describe.
///
/// # Errors
/// An unknown direction or an amount that is not a number.
pub(crate) fn request(a: &TransferArgs) -> anyhow::Result<TransferRequest> {
    let direction = TransferDirection::parse(&a.direction).ok_or_else(|| {
        anyhow::anyhow!(
            "--direction: `{}` is not spot_to_usdm or usdm_to_spot",
            a.direction
        )
    })?;
    let amount = a
        .amount
        .parse::<Decimal>()
        .map_err(|e| anyhow::anyhow!("--amount: `{}`: {e}", a.amount))?;
    Ok(TransferRequest {
        transfer_id: a.id.clone(),
        account: a.account.clone(),
        direction,
        asset: a.asset.to_ascii_uppercase(),
        amount,
    })
}

/// Runs the transfer and prints its record and history.
///
/// # Errors
/// A bad configuration or argument, an unreachable database or exchange, or a refusal.
pub(crate) fn run(a: &DirectTransferArgs) -> anyhow::Result<()> {
    chimera_live::logging::init()?;
    let config = config::load(&a.config, std::env::vars(), None)?;
    let Some(VenueKind::Binance(binance)) = config.gateway.as_ref().map(|g| g.venue.clone()) else {
        anyhow::bail!("the configuration's [gateway] venue is not Binance: nothing to transfer on");
    };
    let request = request(&a.transfer)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let (store, _health) = config.database.build().await?;
            let treasury = BinanceTreasury::connect(&binance).await?;
            let holder = format!("chimera-transfer-{}", std::process::id());
            let record = run_transfer(&store, &treasury, &request, &holder).await?;
            println!(
                "transfer {}: {} {} {} ({}) — {}{}",
                record.transfer_id,
                record.direction.as_str(),
                record.amount.get(),
                record.asset.as_str(),
                record.account,
                record.state.as_str(),
                record
                    .venue_tran_id
                    .map_or(String::new(), |t| format!(", Binance id {t}"))
            );
            for t in store.transfer_transitions(&record.transfer_id).await? {
                println!("  {} {:<9} {}", t.at, t.state.as_str(), t.detail);
            }
            anyhow::ensure!(
                record.state == chimera_ports::TransferState::Confirmed,
                "transfer {} is {}: {}",
                record.transfer_id,
                record.state.as_str(),
                record.detail
            );
            Ok(())
        })
}
