//! Hand-written statements that stay prepared on their connection.
//!
//! `diesel::sql_query` declares its text unsafe to cache, so every call parses and plans the
//! statement again, in a round trip of its own before the one that executes it. The statements
//! on the hot paths (code redemption, refresh rotation, rate limits) are multi-CTE SQL that the
//! query builder cannot express, but their text is a compile-time constant, so caching them is
//! as safe as caching the builder's own queries: [`Static`] is that.
//!
//! Binds are written `$1 … $n` in the text. The query builder numbers placeholders itself and
//! offers no public way to push a value without its placeholder, so the placeholders it writes
//! go into a trailing SQL comment, where PostgreSQL ignores them, while the values travel in
//! the same order as the numbers in the text.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};

/// A statement with constant text and its binds.
#[must_use = "a statement does nothing until it is executed or loaded"]
pub struct Static<B> {
    sql: &'static str,
    binds: B,
}

/// Starts a statement; add its values in `$n` order with [`Static::bind`].
pub fn statement(sql: &'static str) -> Static<()> {
    Static { sql, binds: () }
}

/// One bound value of SQL type `ST`.
pub struct Bound<ST, V> {
    value: V,
    sql_type: PhantomData<ST>,
}

/// The chain of values of a statement.
pub trait Binds {
    /// Pushes every value, first to last.
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

impl Binds for () {
    fn push<'b>(&'b self, _: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Ok(())
    }
}

impl<Rest: Binds, ST, V> Binds for (Rest, Bound<ST, V>)
where
    Pg: HasSqlType<ST>,
    V: ToSql<ST, Pg>,
{
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.push(out)?;
        out.push_sql(" ");
        out.push_bind_param::<ST, V>(&self.1.value)
    }
}

impl<B> Static<B> {
    /// Adds the next value (`$n` for the n-th call).
    pub fn bind<ST, V>(self, value: V) -> Static<(B, Bound<ST, V>)> {
        Static {
            sql: self.sql,
            binds: (
                self.binds,
                Bound {
                    value,
                    sql_type: PhantomData,
                },
            ),
        }
    }
}

impl<B: Binds> QueryFragment<Pg> for Static<B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.sql);
        out.push_sql("\n-- binds:");
        self.binds.push(&mut out)?;
        out.push_sql("\n");
        Ok(())
    }
}

impl<B> QueryId for Static<B> {
    // No static id: diesel then keys its statement cache by the SQL text and bind types.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<B> Query for Static<B> {
    type SqlType = Untyped;
}

impl<B, Conn> RunQueryDsl<Conn> for Static<B> {}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::debug_query;
    use diesel::sql_types::{Integer, Text};

    #[test]
    fn placeholders_written_by_the_builder_stay_in_a_comment() {
        let q = statement("SELECT $2::text, $1::int")
            .bind::<Integer, _>(7)
            .bind::<Text, _>("x");
        let sql = debug_query::<Pg, _>(&q).to_string();
        assert!(
            sql.starts_with("SELECT $2::text, $1::int\n-- binds: $1 $2\n"),
            "{sql}"
        );
    }
}
