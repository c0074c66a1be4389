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
    /// Each registered browser origin, serialised as a browser sends it in `Origin`, and the
    /// clients (indices) that registered it.
    origins: HashMap<String, Vec<usize>>,
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
        let mut origins: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, client) in config.clients.iter().enumerate() {
            for origin in client
                .allowed_origins
                .iter()
                .filter_map(|o| serialised_origin(o))
            {
                origins.entry(origin).or_default().push(i);
            }
        }
        Snapshot {
            version,
            config,
            clients,
            origins,
        }
    }

    /// The client with `id` (a hash lookup).
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.get(id).map(|i| &self.config.clients[*i])
    }

    /// True when some client lists `origin` (as sent in an `Origin` header) among its
    /// `allowed-origins`: scheme, host and port must all match.
    pub fn is_registered_origin(&self, origin: &str) -> bool {
        self.origins.contains_key(origin)
    }

    /// True when `client` lists `origin` among its `allowed-origins`.
    pub fn client_allows_origin(&self, client: &Client, origin: &str) -> bool {
        self.origins.get(origin).is_some_and(|owners| {
            owners
                .iter()
                .any(|i| self.config.clients[*i].id == client.id)
        })
    }
}

/// `origin` as a browser serialises it (RFC 6454 §6.2): lower-case scheme and host, no
/// default port, no trailing slash. Validation already refused anything that is not an origin.
fn serialised_origin(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin).ok()?;
    let serialised = url.origin().ascii_serialization();
    (serialised != "null").then_some(serialised)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::secrets::ConfigSecrets;

    const BASE: &str = include_str!("../../../config/base.xml");

    /// The demo configuration with `origins` registered for the SPA client.
    fn snapshot_with_spa_origins(origins: &[&str]) -> Snapshot {
        let mut config = config::parse(BASE, &ConfigSecrets::ephemeral().unwrap()).unwrap();
        let spa = config
            .clients
            .iter_mut()
            .find(|c| c.id == "demo-web-client")
            .unwrap();
        spa.allowed_origins = origins.iter().map(|o| (*o).to_owned()).collect();
        Snapshot::new(1, config)
    }

    #[test]
    fn a_registered_origin_matches_as_a_browser_serialises_it() {
        let s =
            snapshot_with_spa_origins(&["https://App.Example.com:443", "http://localhost:3000"]);
        assert!(s.is_registered_origin("https://app.example.com"));
        assert!(s.is_registered_origin("http://localhost:3000"));
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        let s = snapshot_with_spa_origins(&["http://localhost:3000"]);
        for other in [
            "https://localhost:3000",
            "http://localhost:3001",
            "http://localhost",
            "http://127.0.0.1:3000",
            "http://localhost:3000/",
            "null",
        ] {
            assert!(!s.is_registered_origin(other), "{other}");
        }
    }

    #[test]
    fn an_origin_belongs_only_to_the_clients_that_registered_it() {
        let s = snapshot_with_spa_origins(&["http://localhost:3000"]);
        let spa = s.client("demo-web-client").unwrap();
        let bff = s.client("bff-oauth-client").unwrap();
        assert!(s.client_allows_origin(spa, "http://localhost:3000"));
        assert!(!s.client_allows_origin(bff, "http://localhost:3000"));
    }
}
