//! Times how fast a market-data file is read: `cargo run --release -p chimera-replay --example read_speed -- FILE`.

use chimera_kernel::ids::Symbol;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: read_speed FILE")?;
    for _ in 0..3 {
        let started = Instant::now();
        let reader =
            chimera_replay::open_market_data(path.as_ref(), None, &Symbol::new("BTCUSDT"))?;
        let (mut ok, mut bad) = (0_u64, 0_u64);
        for event in reader {
            if event.is_ok() {
                ok += 1;
            } else {
                bad += 1;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{ok} events, {bad} bad lines in {:.2} ms ({:.0} events/s)",
            secs * 1e3,
            ok as f64 / secs
        );
    }
    Ok(())
}
