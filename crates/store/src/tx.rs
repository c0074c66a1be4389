//! Transactions whose body may fail with the caller's own error type.

use diesel::PgConnection;
use diesel::connection::Connection;

use crate::StoreError;

enum TxError<E> {
    Diesel(diesel::result::Error),
    Work(E),
}

impl<E> From<diesel::result::Error> for TxError<E> {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Diesel(e)
    }
}

/// Runs `work` in a transaction: committed when it returns `Ok`, rolled back otherwise.
pub fn transaction<T, E: From<StoreError>>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E> {
    conn.transaction::<T, TxError<E>, _>(|conn| work(conn).map_err(TxError::Work))
        .map_err(|e| match e {
            TxError::Diesel(e) => E::from(StoreError::from(e)),
            TxError::Work(e) => e,
        })
}
