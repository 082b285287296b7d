//! The embedded world of the in-process tests: a fresh directory holding a SQLite database,
//! and an in-memory bus (what `chimera up` runs on with its defaults).
#![allow(dead_code, reason = "each test file uses a part")]
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_live::runtime::{Runtime, Shutdown};
use chimera_memory::MemoryEventBus;
use chimera_messages::Topics;
use chimera_sql::{SqlConfig, SqlStore};
use std::path::PathBuf;
use std::sync::Arc;

pub(crate) struct World {
    pub(crate) dir: PathBuf,
    pub(crate) store: SqlStore,
    pub(crate) bus: Arc<MemoryEventBus>,
}

impl World {
    /// A fresh `chimera-<name>-<pid>` directory under the temporary one, with `live.db`.
    pub(crate) async fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("chimera-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("live.db").display());
        let store = SqlStore::connect(&SqlConfig::new(url)).await.unwrap();
        Self {
            dir,
            store,
            bus: Arc::new(MemoryEventBus::new()),
        }
    }

    /// A runtime named `source` on this world's bus (topics under `prefix`) and database.
    pub(crate) fn runtime(&self, prefix: &str, source: &str, shutdown: &Shutdown) -> Runtime {
        Runtime::new(
            self.bus.clone(),
            Topics::new(prefix),
            self.store.clone(),
            source,
            shutdown.clone(),
        )
    }

    /// Closes the database and removes the directory.
    pub(crate) async fn remove(self) {
        self.store.close().await;
        let _ = std::fs::remove_dir_all(self.dir);
    }
}
