use thiserror::Error;

/// Everything that can go wrong talking to PostgreSQL.
#[derive(Debug, Error)]
pub enum StoreError {
    /// No connection could be obtained (database down, unreachable or pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// Applying or inspecting migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A write lost a race with another writer (optimistic concurrency).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value could not be encoded for storage (JSON).
    #[error("cannot encode a value for storage: {0}")]
    Encoding(#[from] serde_json::Error),
    /// The blocking task running the statement was cancelled or panicked.
    #[error("database task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// True when the error means "the database cannot be reached" rather than "this query is wrong".
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_)
                | StoreError::Query(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ClosedConnection,
                    _,
                ))
        )
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Unavailable(one_line(&e.to_string()))
    }
}

/// libpq messages span lines ("…refused\n\tIs the server running…"); operators get one.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
