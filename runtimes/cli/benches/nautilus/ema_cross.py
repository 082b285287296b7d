"""NautilusTrader 1.221's `engine.run()` on the reference bars, for `backtest_throughput`.

Usage: python ema_cross.py BARS_CSV RUNS

Builds one BacktestEngine per run (a BTCUSDT perpetual on a netting margin account with
100,000 USDT, the bundled EMACross strategy at 10/20 trading 0.1 BTC, the bars wrangled
before the clock starts) and times `engine.run()` alone: the loading and wrangling are not
counted, which favours NautilusTrader. Prints one JSON object: the seconds of each run, and
the orders, fills and final balance of the last run, so the benchmark can show that both
engines traded the same way.
"""

import json
import sys
import time
from decimal import Decimal

import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig
from nautilus_trader.examples.strategies.ema_cross import EMACross, EMACrossConfig
from nautilus_trader.model.currencies import USDT
from nautilus_trader.model.data import BarType
from nautilus_trader.model.enums import AccountType, OmsType
from nautilus_trader.model.identifiers import TraderId, Venue
from nautilus_trader.model.objects import Money
from nautilus_trader.persistence.wranglers import BarDataWrangler
from nautilus_trader.test_kit.providers import TestInstrumentProvider


def one_run(frame: pd.DataFrame) -> tuple[float, dict]:
    engine = BacktestEngine(
        config=BacktestEngineConfig(
            trader_id=TraderId("BENCH-001"),
            logging=LoggingConfig(log_level="ERROR"),
        )
    )
    venue = Venue("BINANCE")
    engine.add_venue(
        venue=venue,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=None,
        starting_balances=[Money(100_000, USDT)],
    )
    instrument = TestInstrumentProvider.btcusdt_perp_binance()
    engine.add_instrument(instrument)
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    engine.add_data(BarDataWrangler(bar_type, instrument).process(frame))
    engine.add_strategy(
        EMACross(
            EMACrossConfig(
                instrument_id=instrument.id,
                bar_type=bar_type,
                trade_size=Decimal("0.1"),
                fast_ema_period=10,
                slow_ema_period=20,
                request_bars=False,
            )
        )
    )
    started = time.perf_counter()
    engine.run()
    seconds = time.perf_counter() - started
    account = engine.trader.generate_account_report(venue)
    fills = engine.trader.generate_fills_report()
    outcome = {
        "fills": int(len(fills)),
        "final_balance": str(account["total"].iloc[-1]) if len(account) else None,
    }
    engine.dispose()
    return seconds, outcome


def main() -> None:
    path, runs = sys.argv[1], int(sys.argv[2])
    frame = pd.read_csv(path, index_col="timestamp", parse_dates=True)
    seconds = []
    outcome: dict = {}
    for _ in range(runs):
        took, outcome = one_run(frame)
        seconds.append(took)
    print(json.dumps({"seconds": seconds, **outcome}))


if __name__ == "__main__":
    main()
