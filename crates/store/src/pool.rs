use std::time::Duration;

use diesel::r2d2::Pool;

use crate::connection::{Manager, TRUSTED_IDLE};
use crate::{PgConn, StoreError};

/// How to reach PostgreSQL and how many connections to keep.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// `postgres://user@host:port/db` URL.
    pub url: String,
    /// Upper bound of open connections per process.
    pub max_size: u32,
    /// How long a caller waits for a connection before giving up.
    pub connect_timeout: Duration,
}

/// The connection pool, cheap to clone and shared by every crate through the application state.
#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
}

/// A snapshot of the pool for metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    /// Open connections.
    pub connections: u32,
    /// Open connections currently checked out.
    pub in_use: u32,
    /// Configured maximum.
    pub max_size: u32,
}

impl Store {
    /// Builds the pool without connecting: connections are opened on demand, so a server can
    /// start its health endpoints while the database is still coming up.
    pub fn new(settings: &PoolSettings) -> Result<Self, StoreError> {
        Self::trusting_idle(settings, TRUSTED_IDLE)
    }

    /// [`Store::new`] with connections handed out untested after up to `trusted_idle` idle
    /// (tests use it to make either case certain).
    pub fn trusting_idle(
        settings: &PoolSettings,
        trusted_idle: Duration,
    ) -> Result<Self, StoreError> {
        let manager = Manager::new(&settings.url, trusted_idle);
        let pool = Pool::builder()
            .max_size(settings.max_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(settings.connect_timeout)
            // Only connections idle for a while are actually tested (see `connection`).
            .test_on_check_out(true)
            // r2d2 would log every failed connection attempt (several a second during an
            // outage); callers report unavailability once, with context.
            .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
            .build_unchecked(manager);
        Ok(Store { pool })
    }

    /// Builds the pool and proves the database answers, failing fast with the driver's reason.
    pub fn connect(settings: &PoolSettings) -> Result<Self, StoreError> {
        let store = Self::new(settings)?;
        store.conn()?;
        Ok(store)
    }

    /// A connection, waiting at most the configured timeout.
    pub fn conn(&self) -> Result<PgConn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// A connection, waiting at most `timeout` (health checks use a short one).
    pub fn conn_within(&self, timeout: Duration) -> Result<PgConn, StoreError> {
        self.pool.get_timeout(timeout).map_err(StoreError::from)
    }

    /// Runs blocking database work on tokio's blocking pool.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConn) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio_blocking(move || {
            let mut conn = store.conn()?;
            let result = work(&mut conn);
            if result.is_err() {
                conn.statement_failed();
            }
            result
        })
        .await
    }

    /// Runs blocking work that manages its own connection(s) on tokio's blocking pool.
    pub async fn run_with_store<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio_blocking(move || work(&store)).await
    }

    /// Pool occupancy for the metrics endpoint.
    pub fn status(&self) -> PoolStatus {
        let state = self.pool.state();
        PoolStatus {
            connections: state.connections,
            in_use: state.connections.saturating_sub(state.idle_connections),
            max_size: self.pool.max_size(),
        }
    }
}

async fn tokio_blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    // What the work logs belongs to the caller: its request's span, and its subscriber (a
    // test's scoped one included), which the blocking thread would not otherwise know.
    let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        tracing::dispatcher::with_default(&dispatch, || span.in_scope(work))
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?
}
