//! Golden decodes of Binance's documented example payloads, and what the connector reports
//! from them. The fixtures are written after the examples in Binance's docs (section named
//! above each), with the fields the connector reads kept exactly as documented.

use chimera_binance::codec::decode;
use chimera_binance::codec::market::{decode_frame, DepthSnapshot, StreamItem};
use chimera_binance::codec::rest::{ExchangeInfo, Income, OrderBody, PositionRisk};
use chimera_binance::codec::treasury::{FundingRateRow, TransferAnswer, TransferHistory};
use chimera_binance::codec::user::{OrderUpdate, UserEvent};
use chimera_binance::error::ApiError;
use chimera_binance::instruments::instruments_from;
use chimera_binance::tracker::Tracker;
use chimera_binance::Product;
use chimera_kernel::event::{MarketEvent, ReportKind};
use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce};
use chimera_kernel::testing::qty;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;

/// Spot REST "New order (TRADE)", response `FULL`.
const SPOT_NEW_ORDER_FULL: &str = r#"{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"6gCrw2kRUAF9CvJDGP16IP","transactTime":1507725176595,"price":"0.00000000","origQty":"10.00000000","executedQty":"10.00000000","origQuoteOrderQty":"0.000000","cummulativeQuoteQty":"10.00000000","status":"FILLED","timeInForce":"GTC","type":"MARKET","side":"SELL","workingTime":1507725176595,"selfTradePreventionMode":"NONE","fills":[{"price":"4000.00000000","qty":"1.00000000","commission":"4.00000000","commissionAsset":"USDT","tradeId":56},{"price":"3999.00000000","qty":"5.00000000","commission":"19.99500000","commissionAsset":"USDT","tradeId":57},{"price":"3998.00000000","qty":"2.00000000","commission":"7.99600000","commissionAsset":"USDT","tradeId":58},{"price":"3997.00000000","qty":"1.00000000","commission":"3.99700000","commissionAsset":"USDT","tradeId":59},{"price":"3995.00000000","qty":"1.00000000","commission":"3.99500000","commissionAsset":"USDT","tradeId":60}]}"#;

/// Spot "User Data Streams" → "Order Update" (`executionReport`), a `NEW`.
const SPOT_EXECUTION_NEW: &str = r#"{"e":"executionReport","E":1499405658658,"s":"ETHBTC","c":"mUvoqJxFIILMdfAW5iGSOW","S":"BUY","o":"LIMIT","f":"GTC","q":"1.00000000","p":"0.10264410","P":"0.00000000","F":"0.00000000","g":-1,"C":"","x":"NEW","X":"NEW","r":"NONE","i":4293153,"l":"0.00000000","z":"0.00000000","L":"0.00000000","n":"0","N":null,"T":1499405658657,"t":-1,"v":3,"I":8641984,"w":true,"m":false,"M":false,"O":1499405658657,"Z":"0.00000000","Y":"0.00000000","Q":"0.00000000","W":1499405658657,"V":"NONE"}"#;

/// USDⓈ-M "User Data Streams" → "Event: Order Update", here a partial `TRADE`.
const FUTURES_ORDER_TRADE_UPDATE: &str = r#"{"e":"ORDER_TRADE_UPDATE","E":1568879465651,"T":1568879465650,"o":{"s":"BTCUSDT","c":"TEST","S":"SELL","o":"LIMIT","f":"GTC","q":"0.001","p":"9910","ap":"9910","sp":"0","x":"TRADE","X":"PARTIALLY_FILLED","i":8886774,"l":"0.0004","z":"0.0004","L":"9910","N":"USDT","n":"0.00079280","T":1568879465650,"t":1281,"b":"0","a":"9.91","m":true,"R":false,"wt":"CONTRACT_PRICE","ot":"LIMIT","ps":"BOTH","cp":false,"rp":"0","pP":false,"si":0,"ss":0,"V":"EXPIRE_TAKER","pm":"OPPONENT","gtd":0}}"#;

/// USDⓈ-M "Event: Balance and Position Update".
const FUTURES_ACCOUNT_UPDATE: &str = r#"{"e":"ACCOUNT_UPDATE","E":1564745798939,"T":1564745798938,"a":{"m":"ORDER","B":[{"a":"USDT","wb":"122624.12345678","cw":"100.12345678","bc":"50.12345678"},{"a":"BUSD","wb":"1.00000000","cw":"0.00000000","bc":"-49.12345678"}],"P":[{"s":"BTCUSDT","pa":"0","ep":"0.00000","bep":"0","cr":"200","up":"0","mt":"isolated","iw":"0.00000000","ps":"BOTH"},{"s":"BTCUSDT","pa":"20","ep":"6563.66500","bep":"0","cr":"0","up":"2850.21200","mt":"isolated","iw":"13200.70726908","ps":"LONG"}]}}"#;

/// USDⓈ-M "Position Information V3".
const POSITION_RISK_V3: &str = r#"[{"symbol":"ADAUSDT","positionSide":"BOTH","positionAmt":"30","entryPrice":"0.385","breakEvenPrice":"0.385077","markPrice":"0.41047590","unRealizedProfit":"0.76427700","liquidationPrice":"0","isolatedMargin":"0","notional":"12.31427700","marginAsset":"USDT","isolatedWallet":"0","initialMargin":"0.61571385","maintMargin":"0.08004280","positionInitialMargin":"0.61571385","openOrderInitialMargin":"0","adl":2,"bidNotional":"0","askNotional":"0","updateTime":1720736417660}]"#;

/// USDⓈ-M "Exchange Information", one symbol, trimmed to the fields read.
const FUTURES_EXCHANGE_INFO: &str = r#"{"timezone":"UTC","serverTime":1565246363776,"rateLimits":[{"interval":"MINUTE","intervalNum":1,"limit":2400,"rateLimitType":"REQUEST_WEIGHT"},{"interval":"MINUTE","intervalNum":1,"limit":1200,"rateLimitType":"ORDERS"}],"symbols":[{"symbol":"BLZUSDT","pair":"BLZUSDT","contractType":"PERPETUAL","deliveryDate":4133404800000,"onboardDate":1598252400000,"status":"TRADING","baseAsset":"BLZ","quoteAsset":"USDT","marginAsset":"USDT","pricePrecision":5,"quantityPrecision":0,"filters":[{"filterType":"PRICE_FILTER","maxPrice":"300","minPrice":"0.0001","tickSize":"0.0001"},{"filterType":"LOT_SIZE","maxQty":"10000000","minQty":"1","stepSize":"1"},{"filterType":"MARKET_LOT_SIZE","maxQty":"590119","minQty":"1","stepSize":"1"},{"filterType":"MAX_NUM_ORDERS","limit":200},{"filterType":"MIN_NOTIONAL","notional":"5.0"},{"filterType":"PERCENT_PRICE","multiplierUp":"1.1500","multiplierDown":"0.8500","multiplierDecimal":4}],"orderTypes":["LIMIT","MARKET","STOP","STOP_MARKET","TAKE_PROFIT","TAKE_PROFIT_MARKET","TRAILING_STOP_MARKET"]}]}"#;

/// USDⓈ-M "Diff. Book Depth Streams" (combined-stream envelope).
const FUTURES_DEPTH_DIFF: &str = r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":123456789,"T":123456788,"s":"BTCUSDT","U":157,"u":160,"pu":149,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}}"#;

/// Spot "Individual Symbol Book Ticker Streams" (no `e`).
const SPOT_BOOK_TICKER: &str = r#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#;

/// Wallet "User Universal Transfer History", and its transfer answer.
const TRANSFER_HISTORY: &str = r#"{"total":2,"rows":[{"asset":"USDT","amount":"1","type":"MAIN_UMFUTURE","status":"CONFIRMED","tranId":11415955596,"timestamp":1544433328000},{"asset":"USDT","amount":"2","type":"MAIN_UMFUTURE","status":"CONFIRMED","tranId":11366865406,"timestamp":1544433328000}]}"#;

/// USDⓈ-M "Get Funding Rate History".
const FUNDING_RATE_HISTORY: &str = r#"[{"symbol":"BTCUSDT","fundingRate":"-0.03750000","fundingTime":1570608000000,"markPrice":"34287.54619963"},{"symbol":"BTCUSDT","fundingRate":"0.00010000","fundingTime":1570636800000,"markPrice":"34287.54619963"}]"#;

/// USDⓈ-M "Get Income History".
const INCOME_HISTORY: &str = r#"[{"symbol":"","incomeType":"TRANSFER","income":"-0.37500000","asset":"USDT","info":"TRANSFER","time":1570608000000,"tranId":9689322392,"tradeId":""},{"symbol":"BTCUSDT","incomeType":"COMMISSION","income":"-0.01000000","asset":"USDT","info":"COMMISSION","time":1570636800000,"tranId":9689322392,"tradeId":"2059192"}]"#;

/// Spot REST "Order book".
const SPOT_DEPTH_SNAPSHOT: &str = r#"{"lastUpdateId":1027024,"bids":[["4.00000000","431.00000000"]],"asks":[["4.00000200","12.00000000"]]}"#;

fn tracked(cid: &str, side: Side, q: Decimal) -> (Tracker, OrderIntent) {
    let portfolio = PortfolioId::new("p");
    let intent = OrderIntent {
        intent_id: IntentId::new(cid),
        client_order_id: ClientOrderId::new(cid),
        portfolio_id: portfolio,
        symbol: Symbol::new("BTCUSDT"),
        side,
        qty: qty(q),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(0),
        tag: "".into(),
    };
    let mut t = Tracker::default();
    t.insert(&intent, false);
    (t, intent)
}

#[test]
fn a_full_new_order_answer_reports_accepted_then_each_fill_once_then_filled() {
    let body: OrderBody = decode("order", SPOT_NEW_ORDER_FULL.as_bytes()).expect("decodes");
    assert_eq!(body.fills.len(), 5);
    let (mut tracker, _) = tracked("6gCrw2kRUAF9CvJDGP16IP", Side::Sell, Decimal::from(10));
    let updates = chimera_binance::updates::body_updates(&body);
    let reports: Vec<_> = updates.iter().flat_map(|u| tracker.apply(u)).collect();
    let names: Vec<_> = reports.iter().map(|r| r.kind.name()).collect();
    assert_eq!(
        names,
        [
            "accepted",
            "partially_filled",
            "partially_filled",
            "partially_filled",
            "partially_filled",
            "filled"
        ]
    );
    assert_eq!(
        reports[2].fill().map(|f| f.fee.amount),
        Some(Decimal::new(1_999_500_000, 8))
    );
    // The same answer again (a retried query) adds nothing.
    assert!(updates
        .iter()
        .flat_map(|u| tracker.apply(u))
        .next()
        .is_none());
}

#[test]
fn the_reports_are_the_same_whichever_of_the_answer_and_the_events_comes_first() {
    let body: OrderBody = decode("order", SPOT_NEW_ORDER_FULL.as_bytes()).expect("decodes");
    let answer = chimera_binance::updates::body_updates(&body);
    // What the user-data stream says of the same order: NEW, then one TRADE per fill.
    let mut events = vec![OrderUpdate {
        exec_type: "NEW".into(),
        status: "NEW".into(),
        cum_qty: Decimal::ZERO,
        trade: None,
        ..answer[0].clone()
    }];
    events.extend(
        answer
            .iter()
            .filter(|u| u.trade.is_some())
            .map(|u| OrderUpdate {
                exec_type: "TRADE".into(),
                ..u.clone()
            }),
    );
    let told = |first: &[OrderUpdate], then: &[OrderUpdate]| {
        let (mut tracker, _) = tracked("6gCrw2kRUAF9CvJDGP16IP", Side::Sell, Decimal::from(10));
        first
            .iter()
            .chain(then)
            .flat_map(|u| tracker.apply(u))
            .map(|r| {
                (
                    r.kind.name(),
                    r.fill().map(|f| f.trade_id.as_str().to_owned()),
                )
            })
            .collect::<Vec<_>>()
    };
    let answer_first = told(&answer, &events);
    assert_eq!(answer_first, told(&events, &answer));
    assert_eq!(answer_first.len(), 6, "{answer_first:?}");
    assert_eq!(answer_first[0], ("accepted", None));
    assert_eq!(answer_first[5], ("filled", Some("60".to_owned())));
}

#[test]
fn a_spot_execution_report_new_is_one_accepted() {
    let event: UserEvent = decode("event", SPOT_EXECUTION_NEW.as_bytes()).expect("decodes");
    let UserEvent::SpotExecution(e) = event else {
        panic!("executionReport")
    };
    let update = OrderUpdate::from(e.as_ref());
    assert_eq!(update.client_order_id, "mUvoqJxFIILMdfAW5iGSOW");
    assert!(update.trade.is_none(), "t = -1: no trade");
    let (mut tracker, _) = tracked("mUvoqJxFIILMdfAW5iGSOW", Side::Buy, Decimal::ONE);
    let reports = tracker.apply(&update);
    assert!(matches!(reports.as_slice(), [r] if r.kind == ReportKind::Accepted));
    assert_eq!(
        reports[0]
            .venue_order_id
            .as_ref()
            .map(|v| v.as_str().to_owned()),
        Some("4293153".into())
    );
}

#[test]
fn a_futures_partial_fill_is_a_partial_fill_with_its_fee_and_maker_flag() {
    let event: UserEvent = decode("event", FUTURES_ORDER_TRADE_UPDATE.as_bytes()).expect("decodes");
    let UserEvent::FuturesOrder(e) = event else {
        panic!("ORDER_TRADE_UPDATE")
    };
    let update = OrderUpdate::from(e.as_ref());
    let (mut tracker, _) = tracked("TEST", Side::Sell, Decimal::new(1, 3));
    let reports = tracker.apply(&update);
    let [accepted, r] = reports.as_slice() else {
        panic!("{reports:?}")
    };
    assert_eq!(
        accepted.kind,
        ReportKind::Accepted,
        "accepted before its first fill"
    );
    let ReportKind::PartiallyFilled(fill) = &r.kind else {
        panic!("{r:?}")
    };
    assert_eq!(fill.trade_id.as_str(), "1281");
    assert_eq!(fill.qty.get(), Decimal::new(4, 4));
    assert_eq!(fill.fee.amount, Decimal::new(79_280, 8));
    assert_eq!(fill.liquidity, chimera_kernel::event::Liquidity::Maker);
    assert!(
        tracker.apply(&update).is_empty(),
        "the same trade id again is nothing"
    );
}

#[test]
fn account_update_position_risk_and_exchange_info_decode() {
    let event: UserEvent = decode("event", FUTURES_ACCOUNT_UPDATE.as_bytes()).expect("decodes");
    let UserEvent::FuturesAccount(a) = event else {
        panic!("ACCOUNT_UPDATE")
    };
    assert_eq!(a.a.B[0].wb, Decimal::new(12_262_412_345_678, 8));
    assert_eq!(a.a.P[1].pa, Decimal::from(20));

    let risks: Vec<PositionRisk> =
        decode("positionRisk", POSITION_RISK_V3.as_bytes()).expect("decodes");
    assert_eq!(risks[0].position_amt, Decimal::from(30));

    let info: ExchangeInfo =
        decode("exchangeInfo", FUTURES_EXCHANGE_INFO.as_bytes()).expect("decodes");
    let instruments = instruments_from(Product::Usdm, &info);
    assert_eq!(instruments.len(), 1);
    let i = &instruments[0];
    assert_eq!(i.tick_size.get(), Decimal::new(1, 4));
    assert_eq!(i.lot_size.get(), Decimal::ONE);
    assert_eq!(i.min_notional.get(), Decimal::from(5));
    assert_eq!(info.rate_limits.len(), 2);
}

#[test]
fn error_bodies_decode() {
    let e: ApiError =
        decode("error", br#"{"code":-1121,"msg":"Invalid symbol."}"#).expect("decodes");
    assert_eq!((e.code, e.msg.as_str()), (-1121, "Invalid symbol."));
}

#[test]
fn market_frames_become_kernel_events() {
    let StreamItem::Market(MarketEvent::BookDelta(d)) =
        decode_frame(FUTURES_DEPTH_DIFF.as_bytes()).expect("decodes")
    else {
        panic!("depth")
    };
    assert_eq!(
        (d.first_update_id, d.final_update_id, d.prev_final_update_id),
        (157, 160, Some(149))
    );
    let StreamItem::Market(MarketEvent::Quote(q)) =
        decode_frame(SPOT_BOOK_TICKER.as_bytes()).expect("decodes")
    else {
        panic!("bookTicker")
    };
    assert_eq!(q.update_id, Some(400_900_217));
    assert_eq!(q.ask.get(), Decimal::new(2_536_520_000, 8));
    let snap: DepthSnapshot = decode("depth", SPOT_DEPTH_SNAPSHOT.as_bytes()).expect("decodes");
    let event = snap.to_event("BNBUSDT", 0).expect("valid levels");
    assert_eq!(event.last_update_id, 1_027_024);
}

#[test]
fn treasury_payloads_decode() {
    let history: TransferHistory =
        decode("transfers", TRANSFER_HISTORY.as_bytes()).expect("history");
    assert_eq!(history.total, 2);
    assert_eq!(history.rows[0].tran_id, 11_415_955_596);
    assert_eq!(history.rows[1].amount, Decimal::TWO);
    let empty: TransferHistory = decode("transfers", br#"{"total":0}"#).expect("no rows");
    assert!(empty.rows.is_empty());
    let answer: TransferAnswer = decode("transfer", br#"{"tranId":13526853623}"#).expect("answer");
    assert_eq!(answer.tran_id, 13_526_853_623);
    let rates: Vec<FundingRateRow> =
        decode("rates", FUNDING_RATE_HISTORY.as_bytes()).expect("rates");
    assert_eq!(rates[0].funding_rate, Decimal::new(-375, 4));
    let income: Vec<Income> = decode("income", INCOME_HISTORY.as_bytes()).expect("income");
    assert_eq!(income[1].income_type, "COMMISSION");
    assert_eq!(income[0].tran_id, Some(9_689_322_392));
}

/// Every decoder of a Binance payload, for the fuzz properties: each must answer (value or
/// error), never panic.
fn decode_all(bytes: &[u8]) {
    let _ = decode_frame(bytes);
    let _ = decode::<UserEvent>("event", bytes);
    let _ = decode::<chimera_binance::codec::user::WsApiEvent>("event", bytes);
    let _ = decode::<OrderBody>("order", bytes);
    let _ = decode::<ExchangeInfo>("exchangeInfo", bytes);
    let _ = decode::<Vec<PositionRisk>>("positionRisk", bytes);
    let _ = decode::<ApiError>("error", bytes);
    let _ = decode::<TransferHistory>("transfers", bytes);
    let _ = decode::<TransferAnswer>("transfer", bytes);
    let _ = decode::<Vec<FundingRateRow>>("fundingRate", bytes);
    let _ = decode::<Vec<Income>>("income", bytes);
    if let Ok(snap) = decode::<DepthSnapshot>("depth", bytes) {
        let _ = snap.to_event("X", 0);
    }
    if let Ok(UserEvent::SpotExecution(e)) = decode::<UserEvent>("event", bytes) {
        let _ = Tracker::default().apply(&OrderUpdate::from(e.as_ref()));
    }
}

const FIXTURES: [&str; 12] = [
    TRANSFER_HISTORY,
    FUNDING_RATE_HISTORY,
    INCOME_HISTORY,
    SPOT_NEW_ORDER_FULL,
    SPOT_EXECUTION_NEW,
    FUTURES_ORDER_TRADE_UPDATE,
    FUTURES_ACCOUNT_UPDATE,
    POSITION_RISK_V3,
    FUTURES_EXCHANGE_INFO,
    FUTURES_DEPTH_DIFF,
    SPOT_BOOK_TICKER,
    SPOT_DEPTH_SNAPSHOT,
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3_000))]

    #[test]
    fn no_decoder_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
        decode_all(&bytes);
    }

    #[test]
    fn no_decoder_panics_on_mutated_payloads(
        which in 0..FIXTURES.len(),
        edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..8),
        cut in proptest::prelude::any::<usize>(),
    ) {
        let mut bytes = FIXTURES[which].as_bytes().to_vec();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        bytes.truncate(cut % (bytes.len() + 1) + bytes.len() / 2);
        decode_all(&bytes);
    }

    #[test]
    fn undecodable_frames_keep_their_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..256)) {
        if let Err(e) = decode_frame(&bytes) {
            proptest::prop_assert_eq!(e.bytes, bytes);
        }
    }
}

/// A decoder family under fuzz: its name and what runs every input through it.
type Family = (&'static str, fn(&[u8]));

/// A long, seeded fuzz run over every decoder family, for the figures in a closing note:
/// `CHIMERA_FUZZ_INPUTS=10000000 cargo test --release -p chimera-binance --test golden
/// long_fuzz -- --ignored --nocapture`. Half the inputs are random bytes, half mutated
/// fixtures (bytes replaced, spans cut, duplicated or spliced from another fixture); none may
/// panic, and an undecodable frame keeps its bytes.
#[test]
#[ignore = "long: run by hand with CHIMERA_FUZZ_INPUTS"]
fn long_fuzz() {
    let inputs: u64 = std::env::var("CHIMERA_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let families: [Family; 3] = [
        ("market frames", |b| {
            if let Err(e) = decode_frame(b) {
                assert_eq!(e.bytes, b);
            }
        }),
        ("user events", |b| {
            let _ = decode::<chimera_binance::codec::user::WsApiEvent>("event", b);
            if let Ok(UserEvent::SpotExecution(e)) = decode::<UserEvent>("event", b) {
                let _ = Tracker::default().apply(&OrderUpdate::from(e.as_ref()));
            }
        }),
        ("REST bodies", |b| {
            let _ = decode::<OrderBody>("order", b);
            let _ = decode::<ExchangeInfo>("exchangeInfo", b);
            let _ = decode::<Vec<PositionRisk>>("positionRisk", b);
            let _ = decode::<ApiError>("error", b);
            let _ = decode::<TransferHistory>("transfers", b);
            let _ = decode::<Vec<FundingRateRow>>("fundingRate", b);
            let _ = decode::<Vec<Income>>("income", b);
            if let Ok(snap) = decode::<DepthSnapshot>("depth", b) {
                let _ = snap.to_event("X", 0);
            }
        }),
    ];
    let mut bytes = Vec::with_capacity(4096);
    for (name, family) in families {
        let started = std::time::Instant::now();
        for n in 0..inputs {
            bytes.clear();
            let r = next();
            if n % 2 == 0 {
                let len = (r % 512) as usize;
                bytes.extend((0..len).map(|_| next() as u8));
            } else {
                let fixture = FIXTURES[(r % FIXTURES.len() as u64) as usize].as_bytes();
                bytes.extend_from_slice(fixture);
                for _ in 0..=(next() % 6) {
                    let len = bytes.len().max(1);
                    let at = (next() % len as u64) as usize;
                    match next() % 4 {
                        0 => {
                            if at < bytes.len() {
                                bytes[at] = next() as u8;
                            }
                        }
                        1 => bytes.truncate(at),
                        2 => {
                            let end = (at + (next() % 16) as usize).min(bytes.len());
                            let span = bytes[at.min(end)..end].to_vec();
                            bytes.splice(at.min(bytes.len())..at.min(bytes.len()), span);
                        }
                        _ => {
                            let other =
                                FIXTURES[(next() % FIXTURES.len() as u64) as usize].as_bytes();
                            let from = (next() % other.len() as u64) as usize;
                            let take = (next() % 64) as usize;
                            let piece = &other[from..(from + take).min(other.len())];
                            let at = at.min(bytes.len());
                            bytes.splice(at..at, piece.iter().copied());
                        }
                    }
                }
            }
            family(&bytes);
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{name}: {inputs} inputs in {secs:.1} s ({:.0}/s), no panic",
            inputs as f64 / secs
        );
    }
}
