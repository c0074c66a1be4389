//! Rows of `client_assertion_jtis`: the `jti` of every `private_key_jwt` assertion until it
//! expires, so that an assertion is accepted once (RFC 7523 §3).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::StoreError;

/// Records a client assertion's `jti`; false when it was already used (a replay). Expired
/// entries of the client are pruned on the way.
pub fn record_assertion(
    conn: &mut PgConnection,
    client_id: &str,
    jti: &str,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use crate::schema::client_assertion_jtis as jtis;
    diesel::delete(
        jtis::table
            .filter(jtis::client_id.eq(client_id))
            .filter(jtis::expires_at.lt(now)),
    )
    .execute(conn)?;
    let inserted = diesel::insert_into(jtis::table)
        .values((
            jtis::client_id.eq(client_id),
            jtis::jti.eq(jti),
            jtis::expires_at.eq(expires_at),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(inserted == 1)
}
