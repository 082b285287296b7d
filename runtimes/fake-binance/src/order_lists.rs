//! Spot order lists on the fake: `POST /api/v3/orderList/oco`, `/oto` and `/otoco`.
//!
//! Each leg's parameters carry a prefix (`above…`/`below…` for an OCO, `working…`/`pending…`
//! for an OTO, `working…`/`pendingAbove…`/`pendingBelow…` for an OTOCO); they are read like a
//! single order's, with the list's shared `side`/`quantity` (OCO) or `pendingSide` /
//! `pendingQuantity` (OTOCO). The matching core admits the list whole or refuses it; pending
//! orders are recorded `PENDING_NEW` and placed when the working order has filled in full.

use crate::config::FakeProduct;
use crate::events::order_body;
use crate::orders::{self, Args};
use crate::state::{now_ms, Exchange, NewOrder};
use crate::wire::ApiError;
use crate::Fake;
use chimera_kernel::ids::{ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::order::{Contingency, OrderListRequest};
use serde_json::{json, Value};

/// One leg's parameters, unprefixed (`type`, `price`, `newClientOrderId`, ...).
fn leg(args: &Args<'_>, prefix: &str, shared: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = args
        .0
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(prefix)?;
            let mut chars = rest.chars();
            let first = chars.next()?;
            if !first.is_ascii_uppercase() {
                return None;
            }
            let key = format!("{}{}", first.to_ascii_lowercase(), chars.as_str());
            let key = if key == "clientOrderId" {
                "newClientOrderId".to_owned()
            } else {
                key
            };
            Some((key, v.clone()))
        })
        .collect();
    for (from, to) in shared {
        if let Some(v) = args.get(from) {
            out.push(((*to).to_owned(), v.to_owned()));
        }
    }
    if let Some(symbol) = args.get("symbol") {
        out.push(("symbol".into(), symbol.to_owned()));
    }
    out
}

/// `POST /api/v3/orderList/{oco,oto,otoco}`.
///
/// # Errors
/// A missing or bad parameter (`-1102`, `-1100`), or the list refused (`-2010`, filters).
pub(crate) fn place_list(
    fake: &Fake,
    account: usize,
    path: &str,
    args: &Args<'_>,
) -> Result<Value, ApiError> {
    if fake.config.product != FakeProduct::Spot {
        return Err(ApiError::new(
            404,
            -1000,
            format!("Unknown path POST {path}."),
        ));
    }
    let both = [("side", "side"), ("quantity", "quantity")];
    let pending = [("pendingSide", "side"), ("pendingQuantity", "quantity")];
    let (contingency, legs) = match path {
        "/api/v3/orderList/oco" => (
            Contingency::Oco,
            vec![leg(args, "above", &both), leg(args, "below", &both)],
        ),
        "/api/v3/orderList/oto" => (
            Contingency::Oto,
            vec![leg(args, "working", &[]), leg(args, "pending", &[])],
        ),
        _ => (
            Contingency::Otoco,
            vec![
                leg(args, "working", &[]),
                leg(args, "pendingAbove", &pending),
                leg(args, "pendingBelow", &pending),
            ],
        ),
    };
    let mut parsed = Vec::new();
    for leg in &legs {
        let a = Args(leg);
        let (kind, tif) = orders::parse(FakeProduct::Spot, false, &a)?;
        parsed.push((
            a.need("symbol")?.to_owned(),
            orders::side(&a)?,
            orders::quantity(&a, "quantity")?,
            kind,
            tif,
            a.need("type")?.to_owned(),
            a.get("newClientOrderId").map(str::to_owned),
        ));
    }
    let list_cid = args
        .get("listClientOrderId")
        .map_or_else(|| format!("list{}", now_ms()), str::to_owned);
    let mut ex = fake.exchange();
    let mut placed = Vec::new();
    let mut intents = Vec::new();
    for (n, (symbol, side, qty, kind, tif, type_name, cid)) in parsed.iter().enumerate() {
        let held = contingency != Contingency::Oco && n > 0;
        let order = NewOrder {
            symbol,
            side: *side,
            qty: *qty,
            kind: *kind,
            tif: *tif,
            reduce_only: false,
            close_position: false,
            cid: cid.as_deref(),
            type_name,
            algo: false,
        };
        match ex.register(account, &order, if held { "PENDING_NEW" } else { "NEW" }) {
            Ok((id, intent)) => {
                let cid = ex.current(id)?.cid;
                placed.push((id, cid));
                intents.push(intent);
            }
            Err(e) => {
                undo(&mut ex, &placed);
                return Err(e);
            }
        }
    }
    let request = OrderListRequest {
        list_id: ClientOrderId::new(format!("{account}|{list_cid}")),
        portfolio_id: PortfolioId::new(format!("acct-{account}")),
        symbol: Symbol::new(parsed[0].0.as_str()),
        contingency,
        orders: intents,
    };
    let now = chimera_kernel::time::Timestamp(now_ms());
    ex.arrive(account, &placed, |sim| sim.submit_list(&request, now))?;
    ex.next_order_id += 1;
    let list_id = ex.next_order_id;
    let reports: Vec<Value> = placed
        .iter()
        .filter_map(|(id, _)| ex.records.get(id))
        .map(|r| order_body(FakeProduct::Spot, r, &[]))
        .collect();
    let orders: Vec<Value> = placed
        .iter()
        .filter_map(|(id, _)| ex.records.get(id))
        .map(|r| json!({"symbol": r.symbol, "orderId": r.order_id, "clientOrderId": r.cid}))
        .collect();
    let kind = match contingency {
        Contingency::Oco => "OCO",
        Contingency::Oto => "OTO",
        Contingency::Otoco => "OTOCO",
    };
    Ok(
        json!({"orderListId": list_id, "contingencyType": kind, "listStatusType": "EXEC_STARTED",
              "listOrderStatus": "EXECUTING", "listClientOrderId": list_cid,
              "transactionTime": now_ms(), "symbol": parsed[0].0, "orders": orders,
              "orderReports": reports}),
    )
}

fn undo(ex: &mut Exchange, placed: &[(i64, String)]) {
    for (id, _) in placed {
        ex.records.remove(id);
    }
}
