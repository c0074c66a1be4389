//! The pool's connections, checked only when they may have gone stale.
//!
//! r2d2 can test every connection it hands out, and diesel's test is a `SELECT 1`: one more
//! round trip before every statement, which doubled the round trips of the hot paths (a code
//! exchange, a passkey ceremony) for nothing while the server is busy. A connection given back
//! without a connection error a moment ago is as alive as a test could show; only one that sat
//! idle longer (where a database restart, a failover or an idle timeout may have closed it) is
//! tested. After any failed statement the connection is no longer trusted either: diesel marks
//! it broken only when it sees the loss (not, for one, when preparing a statement fails), so
//! the next checkout tests it and a dead one is replaced rather than handed out again.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use diesel::PgConnection;
use diesel::r2d2::{ConnectionManager, Error, ManageConnection, R2D2Connection};

/// How long a connection may sit idle in the pool before it is tested on checkout.
pub const TRUSTED_IDLE: Duration = Duration::from_secs(1);

/// A PostgreSQL connection with what the pool needs to know to trust it.
pub struct Connection {
    inner: PgConnection,
    /// When it was last given back to the pool in good order (or opened, or tested); `None`
    /// when its last statement failed, so that it is tested before its next use.
    known_good: Option<Instant>,
    /// A statement failed on it while checked out.
    failed: bool,
}

impl Connection {
    /// Records that a statement failed on this connection (for whatever reason).
    pub(crate) fn statement_failed(&mut self) {
        self.failed = true;
    }
}

impl Deref for Connection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.inner
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.inner
    }
}

/// Opens PostgreSQL connections for r2d2 and decides when one needs testing.
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
    trusted_idle: Duration,
}

impl Manager {
    /// Connections to `url`, tested on checkout after `trusted_idle` without use.
    pub(crate) fn new(url: &str, trusted_idle: Duration) -> Self {
        Manager {
            inner: ConnectionManager::new(url),
            trusted_idle,
        }
    }
}

impl ManageConnection for Manager {
    type Connection = Connection;
    type Error = Error;

    fn connect(&self) -> Result<Connection, Error> {
        Ok(Connection {
            inner: self.inner.connect()?,
            known_good: Some(Instant::now()),
            failed: false,
        })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), Error> {
        if conn
            .known_good
            .is_some_and(|at| at.elapsed() < self.trusted_idle)
        {
            return Ok(());
        }
        conn.inner.ping().map_err(Error::QueryError)?;
        conn.known_good = Some(Instant::now());
        Ok(())
    }

    /// Called as a connection is given back: the moment it is last known to work, unless a
    /// statement failed on it.
    fn has_broken(&self, conn: &mut Connection) -> bool {
        if self.inner.has_broken(&mut conn.inner) {
            return true;
        }
        conn.known_good = (!conn.failed).then(Instant::now);
        conn.failed = false;
        false
    }
}
