//! The live configuration of this instance: an immutable snapshot behind an [`ArcSwap`], so the
//! hot path (every authorization and token request) reads it without a lock, and a refresh that
//! swaps in a newer version when another instance commits one.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::model::{Client, Configuration};

/// One committed version, indexed for lookups.
#[derive(Debug)]
pub struct Snapshot {
    /// Version number (0 before the first commit).
    pub version: i32,
    /// The configuration.
    pub config: Configuration,
    clients: HashMap<String, usize>,
}

impl Snapshot {
    /// Indexes `config`.
    pub fn new(version: i32, config: Configuration) -> Self {
        let clients = config
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        Snapshot {
            version,
            config,
            clients,
        }
    }

    /// The client with `id` (a hash lookup).
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.get(id).map(|i| &self.config.clients[*i])
    }
}

/// The instance's current configuration.
#[derive(Debug)]
pub struct ActiveConfig {
    current: ArcSwap<Snapshot>,
}

impl ActiveConfig {
    /// Starts with `snapshot`.
    pub fn new(snapshot: Snapshot) -> Self {
        ActiveConfig {
            current: ArcSwap::from_pointee(snapshot),
        }
    }

    /// The current snapshot (lock-free; hold it for the length of one request so that all of
    /// the request sees one version).
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The current version number.
    pub fn version(&self) -> i32 {
        self.current.load().version
    }

    /// Installs `snapshot` unless a newer one is already active.
    pub fn install(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        self.current.rcu(|old| {
            if old.version >= snapshot.version {
                Arc::clone(old)
            } else {
                Arc::clone(&snapshot)
            }
        });
    }
}
