//! The report's large CSV files (`equity.csv`, `fills.csv`), written row by row into one byte
//! buffer that goes to the file in large pieces.
//!
//! A backtest's equity curve has a row per sample (45,000 for a month of minute bars), so
//! these writers sit on the critical path of `chimera backtest`: numbers and times go out as
//! ASCII through the kernel's `push_*` writers, without the formatting machinery or a UTF-8
//! check per field.

use anyhow::Context;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::value::{push_decimal, push_integer};
use chimera_sim::{EquityPoint, FillRow};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bytes gathered before a write to the file.
const FLUSH_AT: usize = 256 * 1024;

/// A CSV file being written: rows go into [`CsvFile::row`], then [`CsvFile::end_row`].
pub(crate) struct CsvFile {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
}

impl CsvFile {
    /// Creates `dir/name` and writes its header line (given without the newline).
    ///
    /// # Errors
    /// When the file cannot be created; the message names it.
    pub(crate) fn create(dir: &Path, name: &str, header: &str) -> anyhow::Result<Self> {
        let path = dir.join(name);
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
        buf.extend_from_slice(header.as_bytes());
        buf.push(b'\n');
        Ok(Self { path, file, buf })
    }

    /// The buffer the current row is appended to.
    pub(crate) fn row(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Ends the current row, writing the buffer out once it is large.
    ///
    /// # Errors
    /// When the file cannot be written; the message names it.
    pub(crate) fn end_row(&mut self) -> anyhow::Result<()> {
        self.buf.push(b'\n');
        if self.buf.len() >= FLUSH_AT {
            self.write_out()?;
        }
        Ok(())
    }

    /// Writes what is left.
    ///
    /// # Errors
    /// When the file cannot be written; the message names it.
    pub(crate) fn finish(mut self) -> anyhow::Result<()> {
        self.write_out()
    }

    fn write_out(&mut self) -> anyhow::Result<()> {
        self.file
            .write_all(&self.buf)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.buf.clear();
        Ok(())
    }
}

/// Appends `text` as one CSV field, quoted when it holds a comma, a quote or a line break.
pub(crate) fn push_field(out: &mut Vec<u8>, text: &str) {
    if !text
        .bytes()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.push(b'"');
    for &b in text.as_bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// `equity.csv`: one row per sample of each portfolio's equity.
pub(crate) fn write_equity(
    dir: &Path,
    curves: &[(PortfolioId, Vec<EquityPoint>)],
) -> anyhow::Result<()> {
    let mut out = CsvFile::create(dir, "equity.csv", "portfolio,time,ts_ms,equity")?;
    for (id, curve) in curves {
        let mut portfolio = Vec::new();
        push_field(&mut portfolio, id.as_str());
        portfolio.push(b',');
        for p in curve {
            let row = out.row();
            row.extend_from_slice(&portfolio);
            p.ts.push_rfc3339(row);
            row.push(b',');
            push_integer(row, p.ts.0);
            row.push(b',');
            push_decimal(row, p.equity);
            out.end_row()?;
        }
    }
    out.finish()
}

/// `fills.csv`: one row per fill, with its transaction costs when the order's send was seen.
pub(crate) fn write_fills(dir: &Path, fills: &[FillRow]) -> anyhow::Result<()> {
    let mut out = CsvFile::create(
        dir,
        "fills.csv",
        "portfolio,time,ts_ms,symbol,side,qty,price,fee,fee_asset,liquidity,client_order_id,trade_id,\
         sent_ms,ack_latency_ms,fill_latency_ms,mid_at_send,slippage_bps,\
         bid1,bid1_qty,bid2,bid2_qty,bid3,bid3_qty,ask1,ask1_qty,ask2,ask2_qty,ask3,ask3_qty",
    )?;
    for f in fills {
        let side = match f.side {
            chimera_kernel::order::Side::Buy => "BUY",
            chimera_kernel::order::Side::Sell => "SELL",
        };
        let liquidity = match f.liquidity {
            chimera_kernel::event::Liquidity::Maker => "maker",
            chimera_kernel::event::Liquidity::Taker => "taker",
        };
        let row = out.row();
        push_field(row, f.portfolio_id.as_str());
        row.push(b',');
        f.ts.push_rfc3339(row);
        row.push(b',');
        push_integer(row, f.ts.0);
        row.push(b',');
        push_field(row, f.symbol.as_str());
        row.push(b',');
        row.extend_from_slice(side.as_bytes());
        for value in [f.qty.get(), f.price.get(), f.fee] {
            row.push(b',');
            push_decimal(row, value);
        }
        for text in [
            f.fee_asset.as_str(),
            liquidity,
            f.client_order_id.as_str(),
            f.trade_id.as_str(),
        ] {
            row.push(b',');
            push_field(row, text);
        }
        push_costs(row, f.costs.as_ref());
        out.end_row()?;
    }
    out.finish()
}

/// The transaction-cost columns of a fill (empty when unknown).
fn push_costs(row: &mut Vec<u8>, costs: Option<&chimera_sim::FillCosts>) {
    let Some(c) = costs else {
        row.extend(std::iter::repeat_n(b',', 5 + 4 * chimera_sim::TCA_LEVELS));
        return;
    };
    row.push(b',');
    push_integer(row, c.sent_at.0);
    row.push(b',');
    if let Some(ack) = c.ack_ms {
        push_integer(row, ack);
    }
    row.push(b',');
    push_integer(row, c.fill_ms);
    for value in [c.mid_at_send, c.slippage_bps] {
        row.push(b',');
        if let Some(v) = value {
            push_decimal(row, v);
        }
    }
    for side in [&c.bids_at_send, &c.asks_at_send] {
        for i in 0..chimera_sim::TCA_LEVELS {
            row.push(b',');
            if let Some(level) = side.get(i) {
                push_decimal(row, level.price.get());
                row.push(b',');
                push_decimal(row, level.qty.get());
            } else {
                row.push(b',');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::push_field;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        let mut row = Vec::new();
        push_field(&mut row, "plain");
        row.push(b',');
        push_field(&mut row, "a,b");
        row.push(b',');
        push_field(&mut row, "say \"hi\"");
        assert_eq!(row, b"plain,\"a,b\",\"say \"\"hi\"\"\"".to_vec());
    }
}
