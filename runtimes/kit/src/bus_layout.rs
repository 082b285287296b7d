//! Where each live topic lives on Redis Streams (bus kind `redis`).
//!
//! The default layout follows the design's key scheme, with hash tags so that the streams one
//! consumer reads together share a Redis Cluster slot:
//!
//! | topic | stream (after the key prefix) |
//! |---|---|
//! | `market.data` | `mkt:events:{spot}:<SYMBOL>` or `mkt:events:{perp}:<SYMBOL>` |
//! | `orders.submission` | `ord:{intents}` |
//! | `orders.feedback` | `ord:{results}` |
//! | `control.commands` | `ctl:{commands}` |
//! | `schedule.updates` | `sched:{updates}` |
//! | `system.events` | `sys:{events}` |
//! | `alerts` | `ops:{alerts}` |
//! | `dead.letters` | `ops:{dead_letters}` |
//!
//! `[bus.redis_streams]` overrides any of them by topic name (`"orders.feedback" =
//! "exec:{fb}"`). In a template `<key>` is the message key (the symbol for market data) and,
//! for `market.data` only, `<market>` is the symbol's market: `spot` when every configured
//! instrument with that symbol is spot, otherwise `perp` (also for symbols no portfolio of the
//! configuration trades). Funding events stay on their symbol's stream, so a consumer sees them
//! in order with the symbol's prices.

use crate::portfolio_spec::PortfolioSpec;
use chimera_messages::{Topic, Topics};
use chimera_redis::StreamRoute;
use std::collections::BTreeMap;

/// The design's stream for `topic`.
fn default_template(topic: Topic) -> &'static str {
    match topic {
        Topic::MarketData => "mkt:events:{<market>}:<key>",
        Topic::OrdersSubmission => "ord:{intents}",
        Topic::OrdersFeedback => "ord:{results}",
        Topic::ControlCommands => "ctl:{commands}",
        Topic::ScheduleUpdates => "sched:{updates}",
        Topic::SystemEvents => "sys:{events}",
        Topic::Alerts => "ops:{alerts}",
        Topic::DeadLetters => "ops:{dead_letters}",
    }
}

/// `spot` or `perp` for each symbol the portfolios trade.
fn markets(portfolios: &[PortfolioSpec]) -> BTreeMap<String, &'static str> {
    let mut out: BTreeMap<String, &'static str> = BTreeMap::new();
    for instrument in portfolios.iter().flat_map(|p| &p.instruments) {
        let market = if instrument.kind == "spot" {
            "spot"
        } else {
            "perp"
        };
        out.entry(instrument.symbol.clone())
            .and_modify(|m| {
                if *m != market {
                    *m = "perp";
                }
            })
            .or_insert(market);
    }
    out
}

/// The stream routes of every live topic under `topic_prefix`, with the templates of
/// `overrides` (`[bus.redis_streams]`, by topic) in place of the design's.
pub fn redis_stream_routes(
    topic_prefix: &str,
    overrides: &BTreeMap<String, String>,
    portfolios: &[PortfolioSpec],
) -> Vec<StreamRoute> {
    let topics = Topics::new(topic_prefix.to_owned());
    let mut routes = Vec::new();
    for topic in Topic::ALL {
        let name = topics.name(topic);
        let template = overrides
            .get(topic.base_name())
            .map_or(default_template(topic), String::as_str);
        if topic == Topic::MarketData && template.contains("<market>") {
            for (symbol, market) in markets(portfolios) {
                routes.push(StreamRoute {
                    topic: name.clone(),
                    key: Some(symbol),
                    stream: template.replace("<market>", market),
                });
            }
        }
        routes.push(StreamRoute {
            topic: name,
            key: None,
            stream: template.replace("<market>", "perp"),
        });
    }
    routes
}

/// Checks `[bus.redis_streams]`, adding one line per problem.
pub(crate) fn validate(
    overrides: &BTreeMap<String, String>,
    problems: &mut chimera_ports::Problems,
) {
    for (topic, template) in overrides {
        let field = format!("bus.redis_streams.{topic:?}");
        if !Topic::ALL.iter().any(|t| t.base_name() == topic) {
            let known: Vec<&str> = Topic::ALL.iter().map(|t| t.base_name()).collect();
            problems.push(
                &field,
                format!("unknown topic (expected one of {})", known.join(", ")),
            );
        }
        if template.is_empty() || template.contains(char::is_whitespace) {
            problems.push(
                format!("{field} = {template:?}"),
                "must be non-empty, without whitespace",
            );
        }
        if template.contains("<market>") && topic != Topic::MarketData.base_name() {
            problems.push(
                format!("{field} = {template:?}"),
                "<market> only applies to market.data",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::portfolio_spec::InstrumentSpec;

    fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn portfolio(instruments: &[(&str, &str)]) -> PortfolioSpec {
        let mut spec: PortfolioSpec =
            toml::from_str("id = \"p\"\nstrategy = \"ema-cross\"\ninstruments = []\n").unwrap();
        spec.instruments = instruments
            .iter()
            .map(|(symbol, kind)| InstrumentSpec {
                kind: (*kind).to_owned(),
                ..InstrumentSpec::perp_with_defaults(symbol, "1")
            })
            .collect();
        spec
    }

    /// The stream (without prefix) the adapter picks for `key` on `topic` under `routes`.
    fn stream_of(routes: &[StreamRoute], topic: &str, key: &str) -> String {
        chimera_redis::RedisConfig {
            url: "redis://x".into(),
            key_prefix: String::new(),
            stream_max_len: None,
            streams: routes.to_vec(),
        }
        .stream_name(topic, key)
    }

    #[test]
    fn default_layout_follows_the_design_keys() {
        let portfolios = [
            portfolio(&[("ETHUSDT", "spot"), ("BTCUSDT", "perp")]),
            portfolio(&[("SOLUSDT", "spot"), ("BTCUSDT", "spot")]),
        ];
        let routes = redis_stream_routes("chimera.live.", &overrides(&[]), &portfolios);
        let md = "chimera.live.market.data";
        assert_eq!(
            stream_of(&routes, md, "ETHUSDT"),
            "mkt:events:{spot}:ETHUSDT"
        );
        assert_eq!(
            stream_of(&routes, md, "SOLUSDT"),
            "mkt:events:{spot}:SOLUSDT"
        );
        assert_eq!(
            stream_of(&routes, md, "BTCUSDT"),
            "mkt:events:{perp}:BTCUSDT",
            "traded as spot and as perp: perp"
        );
        assert_eq!(
            stream_of(&routes, md, "XRPUSDT"),
            "mkt:events:{perp}:XRPUSDT",
            "unknown symbols default to perp"
        );
        assert_eq!(
            stream_of(&routes, "chimera.live.orders.feedback", "p1"),
            "ord:{results}"
        );
        assert_eq!(
            stream_of(&routes, "chimera.live.orders.submission", "p1"),
            "ord:{intents}"
        );
        let config = chimera_redis::RedisConfig {
            url: "redis://x".into(),
            key_prefix: "chimera.live.".into(),
            stream_max_len: None,
            streams: routes,
        };
        assert!(config.validate().is_ok(), "the routes are a valid config");
    }

    #[test]
    fn overrides_replace_a_topic_and_bad_ones_are_listed() {
        let routes = redis_stream_routes(
            "chimera.live.",
            &overrides(&[
                ("orders.feedback", "exec:{fb}"),
                ("market.data", "md:<key>"),
            ]),
            &[portfolio(&[("ETHUSDT", "spot")])],
        );
        assert_eq!(
            stream_of(&routes, "chimera.live.orders.feedback", "p"),
            "exec:{fb}"
        );
        assert_eq!(
            stream_of(&routes, "chimera.live.market.data", "ETHUSDT"),
            "md:ETHUSDT"
        );
        let mut problems = chimera_ports::Problems::new();
        validate(
            &overrides(&[
                ("orders.nope", "x"),
                ("alerts", "a b"),
                ("alerts.x", "<market>"),
            ]),
            &mut problems,
        );
        assert_eq!(problems.lines().len(), 4, "{problems:#?}");
    }
}
