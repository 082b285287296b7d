//! Fencing: the gateway refuses the orders of a node that no longer owns a portfolio.
//!
//! Every placement of a portfolio by the scheduler carries a fresh, increasing epoch. A node
//! that starts a portfolio first publishes an [`chimera_messages::EpochClaim`] on
//! `orders.submission`, then stamps its epoch on each order command's envelope. The gateway
//! reads that topic in order and keeps, per portfolio, the newest epoch claimed or stamped so
//! far; it refuses a command stamped with an older one (or none, once the portfolio has an
//! epoch). So what a previous owner sent before the new owner's claim executes (the new owner
//! restored a state that includes it, or decides the same intents again, which idempotency by
//! intent id absorbs), and what a zombie sends after it (a node paused or cut off while its
//! portfolio moved) is refused. Fencing by the scheduler's announcements instead would refuse
//! the previous owner's legitimate orders still queued ahead of the gateway. Pure: the caller
//! feeds it and acts on the answer; the table is kept in the gateway's checkpoint so a restart
//! does not forget it.

use chimera_kernel::ids::PortfolioId;
use std::collections::BTreeMap;

/// Why a command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fenced {
    /// The portfolio's current epoch.
    pub(crate) current: u64,
    /// The command's (0: none).
    pub(crate) got: u64,
}

/// The newest epoch known per portfolio.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fence {
    epochs: BTreeMap<PortfolioId, u64>,
}

impl Fence {
    /// A fence that starts from `epochs` (a checkpoint's).
    pub(crate) fn new(epochs: BTreeMap<PortfolioId, u64>) -> Self {
        Self { epochs }
    }

    /// The table, for the checkpoint.
    pub(crate) fn epochs(&self) -> &BTreeMap<PortfolioId, u64> {
        &self.epochs
    }

    /// A node claimed `portfolio` under `epoch` (a lower claim, arriving late, lowers nothing).
    pub(crate) fn claim(&mut self, portfolio: &PortfolioId, epoch: u64) {
        let known = self.epochs.entry(portfolio.clone()).or_default();
        *known = (*known).max(epoch);
    }

    /// Admits a command of `portfolio` stamped `epoch` (raising the portfolio's epoch to it),
    /// or refuses it as a zombie's.
    ///
    /// # Errors
    /// [`Fenced`] when `epoch` is older than the portfolio's current one.
    pub(crate) fn admit(
        &mut self,
        portfolio: &PortfolioId,
        epoch: Option<u64>,
    ) -> Result<(), Fenced> {
        let got = epoch.unwrap_or(0);
        let current = self.epochs.get(portfolio).copied().unwrap_or(0);
        if got < current {
            return Err(Fenced { current, got });
        }
        if got > current {
            self.epochs.insert(portfolio.clone(), got);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_epochs_are_refused_once_a_newer_one_is_known() {
        let p = PortfolioId::new("p1");
        let mut fence = Fence::default();
        assert_eq!(
            fence.admit(&p, None),
            Ok(()),
            "no scheduler: nothing fenced"
        );
        assert_eq!(fence.admit(&p, Some(3)), Ok(()));
        assert_eq!(
            fence.admit(&p, None),
            Err(Fenced { current: 3, got: 0 }),
            "once placed, an unstamped command is refused"
        );
        fence.claim(&p, 5);
        assert_eq!(
            fence.admit(&p, Some(3)),
            Err(Fenced { current: 5, got: 3 }),
            "the zombie of epoch 3 is refused after the move to epoch 5"
        );
        assert_eq!(
            fence.admit(&p, Some(5)),
            Ok(()),
            "the new owner is admitted"
        );
        fence.claim(&p, 4);
        assert_eq!(
            fence.admit(&p, Some(5)),
            Ok(()),
            "a late, older claim lowers nothing"
        );
        assert_eq!(
            fence.admit(&PortfolioId::new("p2"), Some(1)),
            Ok(()),
            "portfolios are fenced separately"
        );
    }
}
