//! Fixed-window rate-limit counters shared by every instance.
//!
//! One statement counts a hit in several buckets at once and returns each bucket's count in
//! its current window, so checking a limit costs a single round trip on the path it protects.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Int4, Text, Timestamptz};

use crate::StoreError;

/// A bucket's count after a hit.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct BucketCount {
    /// The bucket's key.
    #[diesel(sql_type = Text)]
    pub bucket: String,
    /// Hits in the current window, this one included.
    #[diesel(sql_type = Int4)]
    pub hits: i32,
    /// When the current window began.
    #[diesel(sql_type = Timestamptz)]
    pub window_start: DateTime<Utc>,
}

/// The instant at or before which a window that is `window` long has ended by `now`.
pub fn window_cutoff(now: DateTime<Utc>, window: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(window)
        .ok()
        .and_then(|window| now.checked_sub_signed(window))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Counts one hit in each of `buckets` at `now`; a bucket whose window began at or before
/// `now - window` starts a new window. Rows are locked in key order, so concurrent hits on
/// overlapping buckets queue behind each other instead of deadlocking.
pub fn hit(
    conn: &mut PgConnection,
    buckets: &[String],
    now: DateTime<Utc>,
    window: std::time::Duration,
) -> Result<Vec<BucketCount>, StoreError> {
    let cutoff = window_cutoff(now, window);
    let counts = crate::statement::statement(
        "INSERT INTO rate_limits AS r (bucket, window_start, hits)
         SELECT b, $2, 1 FROM (SELECT DISTINCT b FROM unnest($1::text[]) AS b) AS d ORDER BY b
         ON CONFLICT (bucket) DO UPDATE SET
            window_start = CASE WHEN r.window_start <= $3 THEN EXCLUDED.window_start
                                ELSE r.window_start END,
            hits = CASE WHEN r.window_start <= $3 THEN 1 ELSE r.hits + 1 END
         RETURNING r.bucket, r.hits, r.window_start",
    )
    .bind::<Array<Text>, _>(buckets)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(cutoff)
    .load::<BucketCount>(conn)?;
    Ok(counts)
}

/// Counts one hit in `gate` and, only while the gate's count is within `gate_limit`, in each
/// of `buckets`; returns the counts of the buckets hit. An address that is over its limit
/// then creates no new rows however many usernames it tries: the gate (its address bucket)
/// is the only row it touches. The gate is locked before the others, which are locked in key
/// order, so concurrent hits cannot deadlock as long as a gate key is never among another
/// call's `buckets`.
pub fn hit_gated(
    conn: &mut PgConnection,
    (gate, gate_limit): (&str, u32),
    buckets: &[String],
    now: DateTime<Utc>,
    window: std::time::Duration,
) -> Result<Vec<BucketCount>, StoreError> {
    let cutoff = window_cutoff(now, window);
    let counts = crate::statement::statement(
        "WITH gate AS (
            INSERT INTO rate_limits AS r (bucket, window_start, hits) VALUES ($4, $2, 1)
            ON CONFLICT (bucket) DO UPDATE SET
               window_start = CASE WHEN r.window_start <= $3 THEN EXCLUDED.window_start
                                   ELSE r.window_start END,
               hits = CASE WHEN r.window_start <= $3 THEN 1 ELSE r.hits + 1 END
            RETURNING r.bucket, r.hits, r.window_start
         ), rest AS (
            INSERT INTO rate_limits AS r (bucket, window_start, hits)
            SELECT b, $2, 1 FROM (SELECT DISTINCT b FROM unnest($1::text[]) AS b) AS d
            WHERE b <> $4 AND (SELECT hits FROM gate) <= $5
            ORDER BY b
            ON CONFLICT (bucket) DO UPDATE SET
               window_start = CASE WHEN r.window_start <= $3 THEN EXCLUDED.window_start
                                   ELSE r.window_start END,
               hits = CASE WHEN r.window_start <= $3 THEN 1 ELSE r.hits + 1 END
            RETURNING r.bucket, r.hits, r.window_start
         )
         SELECT bucket, hits, window_start FROM gate
         UNION ALL SELECT bucket, hits, window_start FROM rest",
    )
    .bind::<Array<Text>, _>(buckets)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(cutoff)
    .bind::<Text, _>(gate)
    .bind::<Int4, _>(i32::try_from(gate_limit).unwrap_or(i32::MAX))
    .load::<BucketCount>(conn)?;
    Ok(counts)
}

/// The hits of `bucket` in its current window (0 when it has none, or its window has ended),
/// without counting one.
pub fn current(
    conn: &mut PgConnection,
    bucket: &str,
    now: DateTime<Utc>,
    window: std::time::Duration,
) -> Result<i32, StoreError> {
    use crate::schema::rate_limits::dsl;
    let cutoff = window_cutoff(now, window);
    Ok(dsl::rate_limits
        .filter(dsl::bucket.eq(bucket))
        .filter(dsl::window_start.gt(cutoff))
        .select(dsl::hits)
        .first::<i32>(conn)
        .optional()?
        .unwrap_or(0))
}

/// Forgets a bucket (after a successful sign-in, its failures no longer count).
pub fn reset(conn: &mut PgConnection, bucket: &str) -> Result<(), StoreError> {
    use crate::schema::rate_limits::dsl;
    diesel::delete(dsl::rate_limits.filter(dsl::bucket.eq(bucket))).execute(conn)?;
    Ok(())
}

/// Deletes buckets whose window began before `before`; returns how many.
pub fn purge(conn: &mut PgConnection, before: DateTime<Utc>) -> Result<usize, StoreError> {
    use crate::schema::rate_limits::dsl;
    Ok(diesel::delete(dsl::rate_limits.filter(dsl::window_start.lt(before))).execute(conn)?)
}
