//! [`Lockstep`]: order commands held until they come in their turn.
//!
//! Portfolios that share a symbol on the simulated venue read the same market data at their
//! own pace. Executed as they arrive, an order of a portfolio that reads ahead moves the venue
//! to its own time, and an older order of one reading behind then fills at prices its engine
//! had not seen: in a replay, where one engine can be many bars behind another, the fills of a
//! run would depend on which happened to run ahead. So an order stamped `ts` waits here until
//! every other portfolio trading its symbol has promised `ts` (it sends nothing stamped
//! earlier; see [`crate::venue::GatewayVenue::in_turn`]), and the orders that may go are
//! executed oldest stamp first (then by portfolio id), as one venue in event time would see
//! them.
//!
//! A portfolio's messages keep their order: behind one held command, its later commands
//! (cancels and amendments included) and its progress promises wait too. A promise applied
//! while an older order of its portfolio waits would let the venue feed market data past that
//! order's stamp before it runs. A held command is not covered by a checkpoint: the
//! checkpoint's applied offsets stop just before the oldest held command of each partition, and
//! deliveries from there on are acknowledged only once a later checkpoint covers them, so a
//! crash loses no held command (what ran after it runs again, which the gateway's idempotence
//! by client order id makes harmless).

use chimera_kernel::engine::Command;
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::time::Timestamp;
use std::collections::BTreeMap;

/// What waits: an order command, or a portfolio's progress promise behind its held commands.
#[derive(Debug, Clone)]
pub(crate) enum Waiting {
    /// An order command.
    Command(Command),
    /// `portfolio` will stamp nothing before `clock` ([`chimera_messages::Progress`]).
    Progress {
        /// Whose promise.
        portfolio: PortfolioId,
        /// Its engine's clock.
        clock: Timestamp,
    },
}

impl Waiting {
    pub(crate) fn portfolio(&self) -> &PortfolioId {
        match self {
            Self::Command(command) => command.portfolio_id(),
            Self::Progress { portfolio, .. } => portfolio,
        }
    }

    fn turn(&self) -> Option<(&Symbol, Timestamp)> {
        match self {
            Self::Command(command) => turn_of(command),
            Self::Progress { .. } => None,
        }
    }
}

/// One held message and where it was read.
struct Held {
    waiting: Waiting,
    /// `topic/partition` of its delivery (the key of the gateway's applied offsets).
    partition: String,
    offset: i64,
    /// Arrival order.
    seq: u64,
}

/// The commands waiting for their turn.
#[derive(Default)]
pub(crate) struct Lockstep {
    held: Vec<Held>,
    seq: u64,
}

/// The symbol and stamp whose turn `command` waits for: `None` for a cancel or an amendment,
/// which place nothing (they only keep their place behind their portfolio's held commands).
pub(crate) fn turn_of(command: &Command) -> Option<(&Symbol, Timestamp)> {
    let intent = match command {
        Command::Submit(intent) => intent,
        Command::CancelReplace(request) => &request.replacement,
        Command::SubmitList(list) => list.orders.first()?,
        Command::Cancel(_) | Command::Amend(_) => return None,
    };
    Some((&intent.symbol, intent.created_at))
}

impl Lockstep {
    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Whether `portfolio` has a message held (its next ones must wait behind it).
    pub(crate) fn holds(&self, portfolio: &PortfolioId) -> bool {
        self.held.iter().any(|h| h.waiting.portfolio() == portfolio)
    }

    /// The stamp of `portfolio`'s oldest held message when it is an order (what the portfolio
    /// has promised as of now: its later held orders and promises must not count before it
    /// runs, or the venue would feed market data past it).
    pub(crate) fn first_stamp(&self, portfolio: &PortfolioId) -> Option<Timestamp> {
        let first = self
            .held
            .iter()
            .find(|h| h.waiting.portfolio() == portfolio)?;
        first.waiting.turn().map(|(_, ts)| ts)
    }

    /// Holds `waiting`, read at `offset` of `partition`.
    pub(crate) fn hold(&mut self, waiting: Waiting, partition: &str, offset: i64) {
        self.seq += 1;
        self.held.push(Held {
            waiting,
            partition: partition.to_owned(),
            offset,
            seq: self.seq,
        });
    }

    /// The held command to execute next, if one may go (its index, for [`Self::command`] and
    /// [`Self::remove`]): of each portfolio's oldest held command, those `in_turn` allows (a
    /// cancel or amendment always), the one with the oldest stamp, then the smallest
    /// portfolio id. It stays held until removed, so one whose execution is interrupted stays
    /// out of the checkpoint.
    pub(crate) fn ready(
        &self,
        in_turn: impl Fn(&PortfolioId, &Symbol, Timestamp) -> bool,
    ) -> Option<usize> {
        let mut best: Option<(usize, Timestamp, &PortfolioId, u64)> = None;
        for (i, held) in self.held.iter().enumerate() {
            let portfolio = held.waiting.portfolio();
            let first_of_its_portfolio = !self.held[..i]
                .iter()
                .any(|h| h.waiting.portfolio() == portfolio);
            if !first_of_its_portfolio {
                continue;
            }
            let stamp = match held.waiting.turn() {
                Some((symbol, ts)) if in_turn(portfolio, symbol, ts) => ts,
                Some(_) => continue,
                None => Timestamp(i64::MIN),
            };
            let better = best.is_none_or(|(_, t, p, s)| (stamp, portfolio, held.seq) < (t, p, s));
            if better {
                best = Some((i, stamp, portfolio, held.seq));
            }
        }
        best.map(|(index, ..)| index)
    }

    /// Held message `index`.
    pub(crate) fn waiting(&self, index: usize) -> &Waiting {
        &self.held[index].waiting
    }

    /// Releases held command `index` once it was executed.
    pub(crate) fn remove(&mut self, index: usize) {
        self.held.remove(index);
    }

    /// `applied` (the newest offset applied per `topic/partition`) cut to just before the
    /// oldest held command of each partition: what a checkpoint may say was applied.
    pub(crate) fn covered(&self, applied: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
        let mut covered = applied.clone();
        for held in &self.held {
            let before = held.offset - 1;
            covered
                .entry(held.partition.clone())
                .and_modify(|o| *o = (*o).min(before))
                .or_insert(before);
        }
        covered
    }

    /// Whether a delivery at `offset` of `partition` may be acknowledged: it comes before
    /// every held command of that partition.
    pub(crate) fn acknowledgeable(&self, partition: &str, offset: i64) -> bool {
        self.held
            .iter()
            .all(|h| h.partition != partition || offset < h.offset)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chimera_kernel::ids::ClientOrderId;
    use chimera_kernel::order::CancelRequest;

    fn submit(portfolio: &str, id: &str, ts: i64) -> Command {
        let mut intent =
            chimera_kernel::testing::pending_order(&PortfolioId::new(portfolio), 1).intent;
        intent.client_order_id = ClientOrderId::new(id);
        intent.created_at = Timestamp(ts);
        Command::Submit(intent)
    }

    fn id_of(command: &Command) -> String {
        match command {
            Command::Submit(intent) => intent.client_order_id.to_string(),
            Command::Cancel(request) => request.client_order_id.to_string(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn ready_commands_go_oldest_stamp_first_and_each_portfolio_in_its_order() {
        let mut lockstep = Lockstep::default();
        lockstep.hold(Waiting::Command(submit("b", "b1", 300)), "orders/0", 10);
        lockstep.hold(Waiting::Command(submit("a", "a1", 200)), "orders/0", 11);
        let cancel = CancelRequest {
            portfolio_id: PortfolioId::new("b"),
            client_order_id: ClientOrderId::new("b0"),
            symbol: Symbol::new("BTCUSDT"),
            created_at: Timestamp(1),
        };
        lockstep.hold(Waiting::Command(Command::Cancel(cancel)), "orders/0", 12);
        lockstep.hold(Waiting::Command(submit("a", "a2", 100)), "orders/1", 3);
        let promise = Waiting::Progress {
            portfolio: PortfolioId::new("a"),
            clock: Timestamp(400),
        };
        lockstep.hold(promise, "orders/1", 4);
        assert!(lockstep.holds(&PortfolioId::new("a")));
        assert!(!lockstep.holds(&PortfolioId::new("c")));

        let mut take = |in_turn: &dyn Fn(&PortfolioId, &Symbol, Timestamp) -> bool| {
            let index = lockstep.ready(in_turn)?;
            let id = match lockstep.waiting(index) {
                Waiting::Command(command) => id_of(command),
                Waiting::Progress { clock, .. } => format!("progress {}", clock.0),
            };
            lockstep.remove(index);
            Some(id)
        };
        // Nothing is in turn yet.
        assert!(take(&|_, _, _| false).is_none());
        // Only stamps up to 250: a2 (100) waits behind a1 (200), the older stamp first.
        let upto_250 = |_: &PortfolioId, _: &Symbol, ts: Timestamp| ts.0 <= 250;
        let upto_300 = |_: &PortfolioId, _: &Symbol, ts: Timestamp| ts.0 <= 300;
        assert_eq!(take(&upto_250).as_deref(), Some("a1"));
        assert_eq!(take(&upto_250).as_deref(), Some("a2"));
        assert_eq!(
            take(&upto_250).as_deref(),
            Some("progress 400"),
            "a's promise, once its orders ran"
        );
        assert_eq!(take(&upto_250), None, "b1 is at 300");
        assert_eq!(take(&upto_300).as_deref(), Some("b1"));
        assert_eq!(
            take(&upto_300).as_deref(),
            Some("b0"),
            "the cancel behind b1"
        );
        assert!(lockstep.is_empty());
    }

    #[test]
    fn a_checkpoint_covers_nothing_from_the_oldest_held_command_on() {
        let mut lockstep = Lockstep::default();
        let applied = BTreeMap::from([("orders/0".to_owned(), 20), ("orders/1".to_owned(), 7)]);
        assert_eq!(lockstep.covered(&applied), applied);
        lockstep.hold(Waiting::Command(submit("a", "a1", 1)), "orders/0", 15);
        lockstep.hold(Waiting::Command(submit("a", "a2", 2)), "orders/0", 18);
        lockstep.hold(Waiting::Command(submit("b", "b1", 2)), "orders/2", 4);
        let covered = lockstep.covered(&applied);
        assert_eq!(covered["orders/0"], 14);
        assert_eq!(covered["orders/1"], 7);
        assert_eq!(covered["orders/2"], 3);
        assert!(lockstep.acknowledgeable("orders/0", 14));
        assert!(!lockstep.acknowledgeable("orders/0", 15));
        assert!(!lockstep.acknowledgeable("orders/0", 19));
        assert!(lockstep.acknowledgeable("orders/1", 19));
    }
}
