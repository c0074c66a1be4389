//! The pool's connections, checked only when they may have gone stale.
//!
//! r2d2 can test every connection it hands out, and diesel's test is a `SELECT 1`: one more
//! round trip before every statement, which doubled the round trips of the hot paths (a code
//! exchange, a passkey ceremony) for nothing while the server is busy. A connection given back
//! without a connection error a moment ago is as alive as a test could show; only one that sat
//! idle longer (where a database restart, a failover or an idle timeout may have closed it) is
//! tested. A statement that finds the connection lost leaves it broken in diesel's eyes (libpq no
//! longer knows its transaction state), so the pool drops it instead of handing it out again.

use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use diesel::PgConnection;
use diesel::r2d2::{ConnectionManager, Error, ManageConnection, R2D2Connection};

/// How long a connection may sit idle in the pool before it is tested on checkout.
pub(crate) const TRUSTED_IDLE: Duration = Duration::from_secs(1);

/// A PostgreSQL connection with what the pool needs to know to trust it.
pub struct Connection {
    inner: PgConnection,
    /// When it was last given back to the pool in good order (or opened, or tested).
    known_good: Instant,
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
            known_good: Instant::now(),
        })
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), Error> {
        if conn.known_good.elapsed() < self.trusted_idle {
            return Ok(());
        }
        conn.inner.ping().map_err(Error::QueryError)?;
        conn.known_good = Instant::now();
        Ok(())
    }

    /// Called as a connection is given back: the moment it is last known to work.
    fn has_broken(&self, conn: &mut Connection) -> bool {
        if self.inner.has_broken(&mut conn.inner) {
            return true;
        }
        conn.known_good = Instant::now();
        false
    }
}
