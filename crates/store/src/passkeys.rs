//! Rows of `devices` (one per registered passkey) and `passkey_ceremonies` (WebAuthn
//! ceremonies in progress). What a credential means and how it is verified is authn's business;
//! here it is an opaque JSON document with a few columns worth querying.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::schema::{devices, passkey_ceremonies};

/// Which ceremony a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Creating a passkey.
    Registration,
    /// Signing in with one.
    Authentication,
}

impl CeremonyKind {
    fn as_str(self) -> &'static str {
        match self {
            CeremonyKind::Registration => "registration",
            CeremonyKind::Authentication => "authentication",
        }
    }
}

/// A ceremony in progress.
#[derive(Debug, Clone)]
pub struct CeremonyRow {
    /// Id handed to the browser with the challenge.
    pub ceremony_id: Uuid,
    /// Registration or authentication.
    pub kind: CeremonyKind,
    /// The account concerned, if known before the ceremony.
    pub account_id: Option<Uuid>,
    /// The sign-in flow that began it, which alone may finish it.
    pub flow_id: Option<Uuid>,
    /// The relying party's state (challenge, allowed credentials).
    pub state: serde_json::Value,
    /// When the challenge stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// Stores a ceremony.
pub fn insert_ceremony(conn: &mut PgConnection, row: &CeremonyRow) -> Result<(), StoreError> {
    diesel::insert_into(passkey_ceremonies::table)
        .values((
            passkey_ceremonies::ceremony_id.eq(row.ceremony_id),
            passkey_ceremonies::kind.eq(row.kind.as_str()),
            passkey_ceremonies::account_id.eq(row.account_id),
            passkey_ceremonies::flow_id.eq(row.flow_id),
            passkey_ceremonies::state.eq(&row.state),
            passkey_ceremonies::expires_at.eq(row.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The sign-in flow a request names, as the browser that posted it: only an open flow of that
/// browser (same cookie hash, not yet signed in, not expired) may begin or finish a ceremony.
#[derive(Debug, Clone, Copy)]
pub struct BrowserFlow<'a> {
    /// The flow.
    pub flow_id: Uuid,
    /// SHA-256 of the posting browser's cookie.
    pub browser_hash: &'a [u8],
}

/// Stores a ceremony for `flow`, in the same statement that checks the flow is open and this
/// browser's: returns the flow's policy, or `None` (and stores nothing) when it is not.
pub fn insert_ceremony_in_flow(
    conn: &mut PgConnection,
    row: &CeremonyRow,
    flow: BrowserFlow<'_>,
    now: DateTime<Utc>,
) -> Result<Option<serde_json::Value>, StoreError> {
    use diesel::sql_types::{Bytea, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    #[derive(QueryableByName)]
    struct Policy {
        #[diesel(sql_type = Jsonb)]
        policy: serde_json::Value,
    }
    let policy = crate::statement::statement(
        "WITH flow AS (
            SELECT flow_id, policy FROM auth_flows
            WHERE flow_id = $1 AND browser_hash = $2 AND expires_at > $3
              AND consumed_at IS NULL AND account_id IS NULL
         ), ceremony AS (
            INSERT INTO passkey_ceremonies (ceremony_id, kind, account_id, flow_id, state, expires_at)
            SELECT $4, $5, $6, flow.flow_id, $7, $8 FROM flow
         )
         SELECT policy FROM flow",
    )
    .bind::<SqlUuid, _>(flow.flow_id)
    .bind::<Bytea, _>(flow.browser_hash)
    .bind::<Timestamptz, _>(now)
    .bind::<SqlUuid, _>(row.ceremony_id)
    .bind::<Text, _>(row.kind.as_str())
    .bind::<Nullable<SqlUuid>, _>(row.account_id)
    .bind::<Jsonb, _>(&row.state)
    .bind::<Timestamptz, _>(row.expires_at)
    .get_result::<Policy>(conn)
    .optional()?;
    Ok(policy.map(|p| p.policy))
}

/// Takes a live ceremony of `kind` begun by `flow_id` (deleting it, so it is answered at
/// most once).
pub fn take_ceremony(
    conn: &mut PgConnection,
    ceremony_id: Uuid,
    kind: CeremonyKind,
    flow_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Option<CeremonyRow>, StoreError> {
    let taken: Option<(Option<Uuid>, serde_json::Value, DateTime<Utc>)> = diesel::delete(
        passkey_ceremonies::table
            .find(ceremony_id)
            .filter(passkey_ceremonies::kind.eq(kind.as_str()))
            .filter(passkey_ceremonies::flow_id.is_not_distinct_from(flow_id)),
    )
    .returning((
        passkey_ceremonies::account_id,
        passkey_ceremonies::state,
        passkey_ceremonies::expires_at,
    ))
    .get_result(conn)
    .optional()?;
    Ok(taken.filter(|(_, _, expires_at)| *expires_at > now).map(
        |(account_id, state, expires_at)| CeremonyRow {
            ceremony_id,
            kind,
            account_id,
            flow_id,
            state,
            expires_at,
        },
    ))
}

/// The registered credential an authentication answer names.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    /// Its `devices` row.
    pub device_id: Uuid,
    /// Owner.
    pub account_id: Uuid,
    /// The credential as authn stored it.
    pub credential: serde_json::Value,
}

/// An authentication ceremony taken, with what the same statement found.
#[derive(Debug, Clone)]
pub struct TakenAuthentication {
    /// The ceremony (deleted: it cannot be answered again).
    pub ceremony: CeremonyRow,
    /// The registered credential the answer names, if any.
    pub credential: Option<StoredCredential>,
    /// The policy of the flow it was taken in (`None` for a ceremony outside any flow).
    pub flow_policy: Option<serde_json::Value>,
}

/// Takes a live authentication ceremony (deleting it, so it is answered at most once) and, in
/// the same statement, looks up the credential the answer names: a sign-in costs one round
/// trip before the signature is checked. With `flow`, only a ceremony that flow began, while
/// the flow is open and the posting browser's, is taken, and the flow's policy comes back with
/// it; without, only a ceremony begun outside any flow.
pub fn take_authentication(
    conn: &mut PgConnection,
    ceremony_id: Uuid,
    flow: Option<BrowserFlow<'_>>,
    credential_id: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<TakenAuthentication>, StoreError> {
    use diesel::sql_types::{Bytea, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<SqlUuid>)]
        ceremony_account: Option<Uuid>,
        #[diesel(sql_type = Jsonb)]
        state: serde_json::Value,
        #[diesel(sql_type = Timestamptz)]
        expires_at: DateTime<Utc>,
        #[diesel(sql_type = Nullable<Jsonb>)]
        flow_policy: Option<serde_json::Value>,
        #[diesel(sql_type = Nullable<SqlUuid>)]
        device_id: Option<Uuid>,
        #[diesel(sql_type = Nullable<SqlUuid>)]
        account_id: Option<Uuid>,
        #[diesel(sql_type = Nullable<Jsonb>)]
        credential: Option<serde_json::Value>,
    }
    // Without a flow the flow columns are NULL and the ceremony must have none; with one, the
    // ceremony must be that flow's and the flow open for this browser.
    let row = crate::statement::statement(
        "WITH c AS (
            DELETE FROM passkey_ceremonies c
            WHERE c.ceremony_id = $1 AND c.kind = $2
              AND c.flow_id IS NOT DISTINCT FROM $3
              AND ($3 IS NULL OR EXISTS (
                    SELECT 1 FROM auth_flows f
                    WHERE f.flow_id = $3 AND f.browser_hash = $4 AND f.expires_at > $5
                      AND f.consumed_at IS NULL AND f.account_id IS NULL))
            RETURNING c.account_id, c.state, c.expires_at
         )
         SELECT c.account_id AS ceremony_account, c.state, c.expires_at,
                (SELECT f.policy FROM auth_flows f WHERE f.flow_id = $3) AS flow_policy,
                d.device_id, d.account_id, d.credential
         FROM c LEFT JOIN (devices d JOIN accounts a ON a.account_id = d.account_id
                                                     AND a.disabled_at IS NULL)
                ON d.credential_id = $6",
    )
    .bind::<SqlUuid, _>(ceremony_id)
    .bind::<Text, _>(CeremonyKind::Authentication.as_str())
    .bind::<Nullable<SqlUuid>, _>(flow.map(|f| f.flow_id))
    .bind::<Nullable<Bytea>, _>(flow.map(|f| f.browser_hash))
    .bind::<Timestamptz, _>(now)
    .bind::<Bytea, _>(credential_id)
    .get_result::<Row>(conn)
    .optional()?;
    Ok(row.filter(|r| r.expires_at > now).map(|r| {
        let credential = match (r.device_id, r.account_id, r.credential) {
            (Some(device_id), Some(account_id), Some(credential)) => Some(StoredCredential {
                device_id,
                account_id,
                credential,
            }),
            _ => None,
        };
        TakenAuthentication {
            ceremony: CeremonyRow {
                ceremony_id,
                kind: CeremonyKind::Authentication,
                account_id: r.ceremony_account,
                flow_id: flow.map(|f| f.flow_id),
                state: r.state,
                expires_at: r.expires_at,
            },
            credential,
            flow_policy: r.flow_policy,
        }
    }))
}

/// A registered passkey.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct DeviceRow {
    /// Id.
    pub device_id: Uuid,
    /// Owner.
    pub account_id: Uuid,
    /// `webauthn`.
    pub device_type: String,
    /// The WebAuthn credential id.
    pub credential_id: Vec<u8>,
    /// The credential as the verifier keeps it (public key, counter, flags).
    pub credential: serde_json::Value,
    /// The owner's name for it.
    pub name: String,
    /// Authenticator model, when the authenticator says.
    pub aaguid: Option<Uuid>,
    /// Last signature counter seen.
    pub sign_count: i64,
    /// May be synchronised to other devices.
    pub backup_eligible: bool,
    /// Is currently backed up.
    pub backup_state: bool,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Last sign-in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What inserting a device can run into besides a database failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceInsert {
    /// Stored.
    Stored,
    /// The credential id is registered already (to this or another account).
    Duplicate,
}

/// Stores a new passkey; the account counts as changed (its SCIM version moves on).
pub fn insert_device(conn: &mut PgConnection, row: &DeviceRow) -> Result<DeviceInsert, StoreError> {
    let inserted = diesel::insert_into(devices::table)
        .values(row)
        .on_conflict(devices::credential_id)
        .do_nothing()
        .execute(conn)?;
    if inserted != 1 {
        return Ok(DeviceInsert::Duplicate);
    }
    touch_account(conn, row.account_id, row.created_at)?;
    Ok(DeviceInsert::Stored)
}

/// Marks an account changed at `at` (never earlier than it last changed).
fn touch_account(
    conn: &mut PgConnection,
    account_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use crate::schema::accounts;
    diesel::update(
        accounts::table
            .find(account_id)
            .filter(accounts::updated_at.lt(at)),
    )
    .set(accounts::updated_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// An account's passkeys, oldest first.
pub fn devices_of(conn: &mut PgConnection, account_id: Uuid) -> Result<Vec<DeviceRow>, StoreError> {
    Ok(devices::table
        .filter(devices::account_id.eq(account_id))
        .order(devices::created_at.asc())
        .select(DeviceRow::as_select())
        .load(conn)?)
}

/// What a sign-in with a passkey changes on it.
#[derive(Debug, Clone)]
pub struct DeviceUse {
    /// The credential with its new counter and flags.
    pub credential: serde_json::Value,
    /// The new signature counter.
    pub sign_count: i64,
    /// May be synchronised.
    pub backup_eligible: bool,
    /// Is backed up.
    pub backup_state: bool,
    /// When.
    pub used_at: DateTime<Utc>,
}

/// Records a sign-in with a passkey.
pub fn record_use(
    conn: &mut PgConnection,
    device_id: Uuid,
    usage: &DeviceUse,
) -> Result<(), StoreError> {
    diesel::update(devices::table.find(device_id))
        .set((
            devices::credential.eq(&usage.credential),
            devices::sign_count.eq(usage.sign_count),
            devices::backup_eligible.eq(usage.backup_eligible),
            devices::backup_state.eq(usage.backup_state),
            devices::last_used_at.eq(usage.used_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Renames one of an account's passkeys; `false` if it has no such passkey.
pub fn rename_device(
    conn: &mut PgConnection,
    account_id: Uuid,
    device_id: Uuid,
    name: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        devices::table
            .find(device_id)
            .filter(devices::account_id.eq(account_id)),
    )
    .set(devices::name.eq(name))
    .execute(conn)?
        == 1)
}

/// What deleting a passkey did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// Deleted.
    Deleted,
    /// The account has no such passkey.
    NotFound,
    /// Not deleted: it is the account's last way to sign in (no other passkey, no password)
    /// and the deletion was not confirmed. Its name, for the confirmation.
    LastWay(String),
}

/// Deletes one of an account's passkeys, unless it is the last way to sign in and `confirmed`
/// is false. The account row is locked meanwhile, so two deletions at once cannot each see
/// the other's passkey and remove both.
pub fn delete_device(
    conn: &mut PgConnection,
    account_id: Uuid,
    device_id: Uuid,
    confirmed: bool,
    now: DateTime<Utc>,
) -> Result<Deletion, StoreError> {
    use crate::schema::{accounts, password_credentials};
    crate::tx::transaction(conn, |conn| {
        accounts::table
            .find(account_id)
            .select(accounts::account_id)
            .for_update()
            .first::<Uuid>(conn)
            .optional()?;
        let devices: Vec<(Uuid, String)> = devices::table
            .filter(devices::account_id.eq(account_id))
            .select((devices::device_id, devices::name))
            .load(conn)?;
        let Some((_, name)) = devices.iter().find(|(id, _)| *id == device_id) else {
            return Ok(Deletion::NotFound);
        };
        let password = diesel::dsl::select(diesel::dsl::exists(
            password_credentials::table.find(account_id),
        ))
        .get_result::<bool>(conn)?;
        if devices.len() == 1 && !password && !confirmed {
            return Ok(Deletion::LastWay(name.clone()));
        }
        diesel::delete(devices::table.find(device_id)).execute(conn)?;
        touch_account(conn, account_id, now)?;
        Ok(Deletion::Deleted)
    })
}

/// The passkeys of several accounts, oldest first.
pub fn devices_of_all(
    conn: &mut PgConnection,
    account_ids: &[Uuid],
) -> Result<Vec<DeviceRow>, StoreError> {
    Ok(devices::table
        .filter(devices::account_id.eq_any(account_ids))
        .order(devices::created_at.asc())
        .select(DeviceRow::as_select())
        .load(conn)?)
}
