//! The kill switches in the shared store: changing them ([`KillSwitches`], for the API and
//! `chimera ctl`) and following them ([`KillWatch`], for nodes and the gateway).
//!
//! Writers change the one document under a short lock, so two operators engaging at once both
//! land; then they announce the change on `control.commands` for whoever watches. Readers poll
//! every [`DEFAULT_KILL_SWITCH_POLL_MS`]. Readers that cannot read the document (store down, document
//! corrupt) fail closed: every portfolio is held at [`KillMode::HaltEntries`] at least until a
//! read succeeds again, and the first read of a process has to succeed before anything opens.

use crate::runtime::{wall_clock, Runtime};
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::risk::{KillMode, KillState};
use chimera_messages::{
    AlertCode, AlertLevel, ControlCommand, KillSwitch, KillSwitchBoard, MessageType, Topic,
    KILL_SWITCH_KEY, KILL_SWITCH_LOCK_KEY,
};
use chimera_ports::{PortError, StateStore};
use std::sync::Arc;
use std::time::Duration;

/// How often readers look at the switches by default, ms: a switch is honoured within this,
/// plus the time to act on it, even when its announcement is lost.
pub const DEFAULT_KILL_SWITCH_POLL_MS: u64 = 100;

/// Why a change of the switches failed.
#[derive(Debug, thiserror::Error)]
pub enum KillSwitchError {
    /// The shared store failed.
    #[error("the shared store failed")]
    Store(#[from] PortError),
    /// Another writer held the lock for too long.
    #[error("another change of the kill switches is in progress; try again")]
    Busy,
    /// The stored document is not a kill-switch board (written by something else): it is left
    /// as it is for an operator to look at, and readers fail closed meanwhile.
    #[error("the stored kill switches are unreadable")]
    Corrupt(#[source] serde_json::Error),
}

/// Reads and changes the switches.
#[derive(Clone)]
pub struct KillSwitches {
    store: Arc<dyn StateStore>,
}

impl KillSwitches {
    /// Over `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        Self { store }
    }

    /// The switches as stored (none when nothing was ever engaged).
    ///
    /// # Errors
    /// [`KillSwitchError::Store`], [`KillSwitchError::Corrupt`].
    pub async fn read(&self) -> Result<KillSwitchBoard, KillSwitchError> {
        match self.store.get(KILL_SWITCH_KEY).await? {
            None => Ok(KillSwitchBoard::default()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(KillSwitchError::Corrupt),
        }
    }

    /// Engages `switch` (replacing one of the same id). The board after the change, and
    /// whether anything changed (engaging the same switch twice is a no-op).
    ///
    /// # Errors
    /// As [`Self::read`], and [`KillSwitchError::Busy`].
    pub async fn engage(
        &self,
        switch: KillSwitch,
    ) -> Result<(KillSwitchBoard, bool), KillSwitchError> {
        self.change(|board| {
            let changed = board.engage(switch.clone());
            (changed, changed)
        })
        .await
    }

    /// Releases the switch `id`: the board after, and the switch released (`None`: there was
    /// none of that id, nothing changed).
    ///
    /// # Errors
    /// As [`Self::engage`].
    pub async fn release(
        &self,
        id: &str,
    ) -> Result<(KillSwitchBoard, Option<KillSwitch>), KillSwitchError> {
        self.change(|board| {
            let gone = board.release(id);
            (gone.is_some(), gone)
        })
        .await
    }

    /// Applies `edit` (whether it changed the board, and what it says) under the lock; a
    /// transient store failure (a connection being re-established) is tried again a few times
    /// before it is reported: this is the emergency brake.
    async fn change<T>(
        &self,
        edit: impl Fn(&mut KillSwitchBoard) -> (bool, T),
    ) -> Result<(KillSwitchBoard, T), KillSwitchError> {
        let mut attempt = 0;
        loop {
            match self.change_once(&edit).await {
                Err(KillSwitchError::Store(e)) if e.is_transient() && attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                outcome => return outcome,
            }
        }
    }

    async fn change_once<T>(
        &self,
        edit: &impl Fn(&mut KillSwitchBoard) -> (bool, T),
    ) -> Result<(KillSwitchBoard, T), KillSwitchError> {
        let token = self.lock().await?;
        let outcome = async {
            let mut board = self.read().await?;
            let pruned = !board.prune(wall_clock().0).is_empty();
            let (changed, said) = edit(&mut board);
            if changed || pruned {
                let bytes = serde_json::to_vec(&board).map_err(KillSwitchError::Corrupt)?;
                self.store.set(KILL_SWITCH_KEY, &bytes, None).await?;
            }
            Ok((board, said))
        }
        .await;
        let _ = self.store.unlock(KILL_SWITCH_LOCK_KEY, &token).await;
        outcome
    }

    async fn lock(&self) -> Result<chimera_ports::LockToken, KillSwitchError> {
        for _ in 0..40 {
            if let Some(token) = self
                .store
                .lock(KILL_SWITCH_LOCK_KEY, Duration::from_secs(5))
                .await?
            {
                return Ok(token);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(KillSwitchError::Busy)
    }
}

/// Announces a change on `control.commands` and raises the `kill_switch` alert saying what
/// changed.
pub async fn announce(rt: &Runtime, version: u64, what: String) {
    let command = ControlCommand::KillSwitchChanged { version };
    if let Err(e) = rt
        .publish(
            Topic::ControlCommands,
            MessageType::ControlCommand,
            format!("kill:{}:{version}", rt.source),
            command.key(),
            &command,
        )
        .await
    {
        tracing::warn!(component = %rt.source, "kill switch announcement not sent: {e}");
    }
    rt.alert(AlertLevel::Critical, AlertCode::KillSwitch, what, None);
}

/// What a refresh of a [`KillWatch`] saw.
#[derive(Debug)]
pub enum WatchEvent {
    /// Nothing new.
    Same,
    /// The switches changed.
    Changed,
    /// The switches cannot be read: failing closed.
    Unreadable(KillSwitchError),
    /// Readable again after [`WatchEvent::Unreadable`].
    Recovered,
}

/// Raises the alert a reader owes for `event`: critical when the switches became unreadable
/// (`closed_means` says what failing closed does for this reader), a warning when they are
/// readable again.
pub fn alert_on(rt: &Runtime, event: &WatchEvent, closed_means: &str) {
    let (level, message) = match event {
        WatchEvent::Unreadable(e) => (
            AlertLevel::Critical,
            format!("cannot read the kill switches ({e}): {closed_means}"),
        ),
        WatchEvent::Recovered => (
            AlertLevel::Warning,
            "the kill switches are readable again".to_owned(),
        ),
        WatchEvent::Same | WatchEvent::Changed => return,
    };
    rt.alert(level, AlertCode::KillSwitchUnreadable, message, None);
}

/// A reader's view of the switches, failing closed. (`Default` is a view with no switches that
/// does not fail closed: for a process without shared state, which has no switches to read.)
#[derive(Debug, Clone, Default)]
pub struct KillWatch {
    board: KillSwitchBoard,
    /// No successful read yet, or the last read failed.
    closed: bool,
    read_once: bool,
}

impl KillWatch {
    /// A view that holds entries until its first successful read.
    pub fn new() -> Self {
        Self {
            board: KillSwitchBoard::default(),
            closed: true,
            read_once: false,
        }
    }

    /// Reads the switches again.
    pub async fn refresh(&mut self, switches: &KillSwitches) -> WatchEvent {
        match switches.read().await {
            Ok(board) => {
                let was_closed = self.closed && self.read_once;
                self.closed = false;
                self.read_once = true;
                if was_closed {
                    self.board = board;
                    WatchEvent::Recovered
                } else if board != self.board {
                    self.board = board;
                    WatchEvent::Changed
                } else {
                    WatchEvent::Same
                }
            }
            Err(e) => {
                let first = !self.closed || !self.read_once;
                self.closed = true;
                self.read_once = true;
                if first {
                    WatchEvent::Unreadable(e)
                } else {
                    WatchEvent::Same
                }
            }
        }
    }

    /// Whether the view is failing closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The board last read.
    pub fn board(&self) -> &KillSwitchBoard {
        &self.board
    }

    /// What `portfolio`'s engine must be told at `now` (epoch ms).
    pub fn state_for(&self, portfolio: &PortfolioId, now: i64) -> KillState {
        let mut state = self.board.state_for(portfolio, now);
        if self.closed {
            state.engage_all(KillMode::HaltEntries);
        }
        state
    }

    /// The hardest mode in force for `symbol` of `portfolio` at `now` (epoch ms).
    pub fn mode_for(&self, portfolio: &PortfolioId, symbol: &Symbol, now: i64) -> Option<KillMode> {
        let mode = self.board.mode_for(portfolio, symbol, now);
        if self.closed {
            mode.max(Some(KillMode::HaltEntries))
        } else {
            mode
        }
    }
}
