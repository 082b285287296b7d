//! Which portfolios of the node want which messages, and how far the routers have read: a
//! portfolio that joins learns, per stream, from which offset the routers hand it everything,
//! so its catch-up ([`super::catch_up`]) reads only what lies before that.

use super::queue::PortfolioQueue;
use chimera_kernel::engine::InterestMap;
use chimera_kernel::ids::PortfolioId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Which portfolios want what. Replaced whole when a portfolio joins or leaves the node
/// ([`RouteTable`]), so a router reads one consistent version per message.
#[derive(Clone, Default)]
pub(crate) struct Routes {
    /// Symbol → queues of the portfolios trading it (the kernel's interest map).
    pub(crate) interest: InterestMap<(PortfolioId, Arc<PortfolioQueue>)>,
    /// Portfolio → its queue.
    pub(crate) by_portfolio: HashMap<PortfolioId, Arc<PortfolioQueue>>,
}

/// The first and the last offset a router took routes for on one stream (`topic/partition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    first: i64,
    last: i64,
}

#[derive(Default)]
struct Current {
    routes: Arc<Routes>,
    /// Per stream the routers read; taken under the same lock as the routes, so "routed before
    /// a portfolio joined" and "routed with it" never overlap.
    read: HashMap<Arc<str>, Span>,
    /// Per stream, where the router's subscription began (when the bus tells).
    starts: HashMap<String, i64>,
}

/// The node's current [`Routes`], swapped as portfolios come and go (copy on write: a change
/// is rare, a read is per message), and where each router stands.
pub(crate) struct RouteTable {
    current: Mutex<Current>,
    /// Portfolios the node starts with whose start has not settled yet (joined, refused, or
    /// lease not taken); the routers read nothing before they all have (or
    /// [`START_GATE_LIMIT`] passed): what a router reads before a portfolio joins, that
    /// portfolio must read again for itself.
    awaited: Mutex<usize>,
    open: tokio::sync::watch::Sender<bool>,
    /// Topics whose router has subscribed.
    subscribed: tokio::sync::watch::Sender<std::collections::HashSet<String>>,
}

/// How long routers wait for the node's first portfolios to join before reading anyway (a
/// portfolio may wait for its lease much longer; it then catches up on what it missed).
const START_GATE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

impl Default for RouteTable {
    fn default() -> Self {
        Self {
            current: Mutex::default(),
            awaited: Mutex::new(0),
            open: tokio::sync::watch::channel(true).0,
            subscribed: tokio::sync::watch::channel(std::collections::HashSet::new()).0,
        }
    }
}

impl RouteTable {
    /// The routers wait (in [`Self::opened`]) until the start of `count` portfolios has
    /// settled ([`Self::settled`]).
    pub(crate) fn await_portfolios(&self, count: usize) {
        *self
            .awaited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = count;
        self.open.send_replace(count == 0);
    }

    /// Returns once the start of every portfolio the node starts with has settled, or after
    /// [`START_GATE_LIMIT`].
    pub(crate) async fn opened(&self) {
        let mut open = self.open.subscribe();
        // An error means the table is gone: nothing to wait for.
        let _ = tokio::time::timeout(START_GATE_LIMIT, open.wait_for(|open| *open)).await;
    }

    /// A portfolio's start settled: it joined ([`Self::add`] says so itself), or it will not
    /// run here (refused, or its lease not taken). Before the routers open only the
    /// portfolios the node starts with can start (the routers bring every later one).
    pub(crate) fn settled(&self) {
        let mut awaited = self
            .awaited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *awaited > 0 {
            *awaited -= 1;
            if *awaited == 0 {
                self.open.send_replace(true);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Current> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The routes now, for readers that route nothing off a stream (the kill-switch watch).
    pub(crate) fn load(&self) -> Arc<Routes> {
        Arc::clone(&self.lock().routes)
    }

    /// The routes for the message at `offset` of `stream`, recording that the router has
    /// reached it: a portfolio that joins after this call gets every later message of the
    /// stream from the router, and catches up on this one and those before.
    pub(crate) fn route(&self, stream: &Arc<str>, offset: i64) -> Arc<Routes> {
        let mut current = self.lock();
        match current.read.get_mut(stream) {
            Some(span) => span.last = span.last.max(offset),
            None => {
                current.read.insert(
                    Arc::clone(stream),
                    Span {
                        first: offset,
                        last: offset,
                    },
                );
            }
        }
        Arc::clone(&current.routes)
    }

    /// Routes `portfolio`'s messages to `queue` from now on; the answer says from where on each
    /// stream the routers hand it everything.
    pub(crate) fn add(
        self: &Arc<Self>,
        portfolio: &chimera_kernel::portfolio::Portfolio,
        queue: &Arc<PortfolioQueue>,
    ) -> Joined {
        let mut current = self.lock();
        let mut next = Routes::clone(&current.routes);
        next.interest
            .subscribe(portfolio, &(portfolio.id.clone(), Arc::clone(queue)));
        next.by_portfolio
            .insert(portfolio.id.clone(), Arc::clone(queue));
        current.routes = Arc::new(next);
        let joined = Joined {
            table: Arc::clone(self),
            reached: current
                .read
                .iter()
                .map(|(stream, span)| (stream.to_string(), span.last))
                .collect(),
        };
        drop(current);
        self.settled();
        joined
    }

    /// Stops routing anything to `id`.
    pub(crate) fn remove(&self, id: &PortfolioId) {
        let mut current = self.lock();
        let mut next = Routes::clone(&current.routes);
        next.interest.retain(|(p, _)| p != id);
        next.by_portfolio.remove(id);
        current.routes = Arc::new(next);
    }

    /// Records where a router's subscription to `topic` begins on each partition
    /// ([`chimera_ports::Subscription::starts`]), before it routes anything.
    pub(crate) fn started(&self, topic: &str, starts: &std::collections::BTreeMap<i32, i64>) {
        let mut current = self.lock();
        for (partition, &offset) in starts {
            current
                .starts
                .insert(format!("{topic}/{partition}"), offset);
        }
        drop(current);
        self.subscribed.send_modify(|topics| {
            topics.insert(topic.to_owned());
        });
    }

    /// Where the routers begin on `stream`: their subscription's start, else the first offset
    /// they routed there.
    fn first(&self, stream: &str) -> Option<i64> {
        let current = self.lock();
        current
            .starts
            .get(stream)
            .copied()
            .or_else(|| current.read.get(stream).map(|span| span.first))
    }
}

/// How a portfolio that joins the node catches up ([`super::catch_up`]): what its worker
/// reads before its first routed input.
pub(crate) struct CatchUp {
    /// Its throw-away consumer groups' name (one per topic, suffixed).
    pub(crate) group: String,
    /// Where the routers stood when it joined them.
    pub(crate) joined: Joined,
}

/// What the routers had read when a portfolio joined them.
pub(crate) struct Joined {
    table: Arc<RouteTable>,
    /// Per stream, the last offset routed without the portfolio.
    reached: HashMap<String, i64>,
}

impl Joined {
    /// The offset of `stream` from which the routers hand the portfolio every message, when
    /// known: right after what they had routed when it joined, or, for a stream they had not
    /// read yet, the first message they read of it since (their consumer group's position,
    /// so nothing before it ever reaches the portfolio through them), as their subscription
    /// told it or as its first delivery showed. `None`: not known yet; everything up to the
    /// stream's end may be missing.
    pub(crate) fn handed_from(&self, stream: &str) -> Option<i64> {
        match self.reached.get(stream) {
            Some(&last) => Some(last.saturating_add(1)),
            None => self.table.first(stream),
        }
    }

    /// Returns once the router of `topic` has subscribed (so what its subscription tells
    /// about where it starts is known). A portfolio started with the node waits for it before
    /// catching up: otherwise it would read what the router is about to hand it anyway.
    pub(crate) async fn router_subscribed(&self, topic: &str) {
        let mut subscribed = self.table.subscribed.subscribe();
        // The sender lives in the table this holds: the wait cannot fail.
        let _ = subscribed.wait_for(|topics| topics.contains(topic)).await;
    }

    /// Nothing known: the portfolio catches up on everything (a worker started without
    /// routers).
    #[cfg(test)]
    pub(crate) fn unknown() -> Self {
        Self {
            table: Arc::default(),
            reached: HashMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portfolio(id: &str) -> chimera_kernel::portfolio::Portfolio {
        chimera_kernel::portfolio::Portfolio::new(
            PortfolioId::new(id),
            chimera_kernel::ids::Asset::new("USDT"),
        )
    }

    #[test]
    fn a_joining_portfolio_learns_where_the_routers_hand_it_everything() {
        let table = Arc::new(RouteTable::default());
        let read: Arc<str> = "market/0".into();
        let unread = "market/1";
        for offset in 5..=9 {
            let routes = table.route(&read, offset);
            assert!(routes.by_portfolio.is_empty());
        }
        let queue = Arc::new(PortfolioQueue::new(8));
        let joined = table.add(&portfolio("p"), &queue);
        // Offsets up to 9 were routed without it: the routers hand it 10 on.
        assert_eq!(joined.handed_from("market/0"), Some(10));
        let routes = table.route(&read, 10);
        assert!(routes.by_portfolio.contains_key(&PortfolioId::new("p")));
        // A stream not read yet: unknown until the routers read it, then where they started.
        assert_eq!(joined.handed_from(unread), None);
        table.route(&Arc::from(unread), 42);
        table.route(&Arc::from(unread), 43);
        assert_eq!(joined.handed_from(unread), Some(42));
        assert_eq!(joined.handed_from("market/0"), Some(10));
        // A subscription that tells where it starts answers before anything is read.
        table.started("market", &std::collections::BTreeMap::from([(2, 7)]));
        assert_eq!(joined.handed_from("market/2"), Some(7));
        table.remove(&PortfolioId::new("p"));
        assert!(table.load().by_portfolio.is_empty());
        assert_eq!(Joined::unknown().handed_from("market/0"), None);
    }

    #[tokio::test]
    async fn routers_wait_for_the_portfolios_the_node_starts_with() {
        let table = Arc::new(RouteTable::default());
        table.await_portfolios(2);
        let waiting = tokio::spawn({
            let table = Arc::clone(&table);
            async move { table.opened().await }
        });
        let queue = Arc::new(PortfolioQueue::new(8));
        let joined = table.add(&portfolio("a"), &queue);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "one of two settled: still closed");
        // The other one is refused: settled too.
        table.settled();
        tokio::time::timeout(std::time::Duration::from_secs(1), waiting)
            .await
            .expect("open once both settled")
            .expect("the waiting task");
        // A catch-up waits for the topic's router to subscribe.
        let subscribed = tokio::spawn(async move { joined.router_subscribed("market").await });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!subscribed.is_finished(), "no router yet");
        table.started("market", &std::collections::BTreeMap::new());
        tokio::time::timeout(std::time::Duration::from_secs(1), subscribed)
            .await
            .expect("done once the router subscribed")
            .expect("the waiting task");
    }
}
