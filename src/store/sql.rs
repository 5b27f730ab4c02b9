//! The thin SQL layer the store's operations are written against, once, for both databases.
//!
//! - [`Sql`]: run a statement ([`Sql::exec`]) or a query returning owned [`Row`]s
//!   ([`Sql::query`], and on `dyn Sql` [`query_opt`](Sql::query_opt), [`query_one`](Sql::query_one),
//!   [`one`](Sql::one), [`opt`](Sql::opt) for scalars). Parameters are owned [`Value`]s, written
//!   `?1`, `?2`… in the SQL (the PostgreSQL side rewrites them to `$1`, `$2`… outside string
//!   literals); [`sql_params!`](crate::sql_params) builds the list.
//! - Implemented for a rusqlite [`rusqlite::Connection`] / [`rusqlite::Transaction`] (statements
//!   are prepared once per connection with `prepare_cached`) and for [`PgTx`], one PostgreSQL
//!   transaction of the sync `postgres` crate (statements prepared once per transaction).
//!
//! The SQL itself is written in the dialect both accept: `INSERT … ON CONFLICT … DO NOTHING`,
//! `RETURNING id` instead of `last_insert_rowid()`, `coalesce`, `CAST(sum(x) AS BIGINT)` (a
//! PostgreSQL `sum(bigint)` is `numeric`), `CAST(x AS TEXT)` where a text and a number meet, no
//! `PRAGMA`. Times are stored as integer epoch seconds on both sides.

use std::cell::RefCell;
use std::collections::HashMap;

/// A parameter or a column value, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A failure of the SQL layer: the database's own error, or a value that does not fit the type
/// asked for (a row of the wrong shape: treated as corrupt data by the store).
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("{0}")]
    Sqlite(rusqlite::Error),
    #[error("{}", describe_pg(.0))]
    Postgres(postgres::Error),
    #[error("column {column}: {what}")]
    Type { column: usize, what: String },
    #[error("the query returned no row")]
    NoRow,
}

/// A PostgreSQL error in full: the driver's words ("db error") with its causes (the server's
/// message, or why a parameter could not be written).
pub fn describe_pg(e: &postgres::Error) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        SqlError::Sqlite(e)
    }
}

impl From<postgres::Error> for SqlError {
    fn from(e: postgres::Error) -> Self {
        SqlError::Postgres(e)
    }
}

/// Which database answers (for the few checks only one of them has, e.g. SQLite's
/// `PRAGMA quick_check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// One transaction (or connection) that runs SQL with owned parameters and owned rows.
pub trait Sql {
    /// Run a statement; the number of rows changed.
    fn exec(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError>;
    /// Run a query; every row, owned.
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError>;
    /// Run several statements without parameters (migrations).
    fn exec_batch(&self, sql: &str) -> Result<(), SqlError>;
    fn dialect(&self) -> Dialect;
}

impl dyn Sql + '_ {
    /// The first row, if any.
    pub fn query_opt(&self, sql: &str, params: &[Value]) -> Result<Option<Row>, SqlError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// Exactly the first row ([`SqlError::NoRow`] when there is none).
    pub fn query_one(&self, sql: &str, params: &[Value]) -> Result<Row, SqlError> {
        self.query_opt(sql, params)?.ok_or(SqlError::NoRow)
    }

    /// The first column of the first row.
    pub fn one<T: FromValue>(&self, sql: &str, params: &[Value]) -> Result<T, SqlError> {
        self.query_one(sql, params)?.get(0)
    }

    /// The first column of the first row, if there is a row.
    pub fn opt<T: FromValue>(&self, sql: &str, params: &[Value]) -> Result<Option<T>, SqlError> {
        self.query_opt(sql, params)?.map(|r| r.get(0)).transpose()
    }

    /// The first column of every row.
    pub fn column<T: FromValue>(&self, sql: &str, params: &[Value]) -> Result<Vec<T>, SqlError> {
        self.query(sql, params)?.iter().map(|r| r.get(0)).collect()
    }
}

/// An owned row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T, SqlError> {
        let v = self.0.get(i).ok_or_else(|| SqlError::Type {
            column: i,
            what: format!("no such column (the row has {})", self.0.len()),
        })?;
        T::from_value(v).map_err(|what| SqlError::Type { column: i, what })
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A Rust type a column converts into.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, String>;
}

fn mismatch<T>(want: &str, v: &Value) -> Result<T, String> {
    Err(format!("expected {want}, found {v:?}"))
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self, String> {
        Ok(v.clone())
    }
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Int(n) => Ok(*n),
            Value::Bool(b) => Ok(i64::from(*b)),
            _ => mismatch("an integer", v),
        }
    }
}

macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<Self, String> {
                let n = i64::from_value(v)?;
                <$t>::try_from(n).map_err(|_| format!("{n} is out of range for {}", stringify!($t)))
            }
        }
    )*};
}
int_from_value!(i32, u32, u64, i16, u16, u8, usize);

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::Int(n) => Ok(*n != 0),
            _ => mismatch("a boolean", v),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Real(x) => Ok(*x),
            Value::Int(n) => Ok(*n as f64),
            _ => mismatch("a number", v),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            _ => mismatch("text", v),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.clone().into_bytes()),
            _ => mismatch("a blob", v),
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

macro_rules! int_into_value {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Int(i64::from(n))
            }
        }
    )*};
}
int_into_value!(i32, u32, i16, u16, u8);

impl From<u64> for Value {
    /// Values beyond `i64::MAX` saturate (never met: ids, seconds, fen and counts are smaller).
    fn from(n: u64) -> Self {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Real(x)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<&&str> for Value {
    fn from(s: &&str) -> Self {
        Value::Text((*s).to_string())
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Blob(b)
    }
}

impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Self {
        Value::Blob(b.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

impl From<&Value> for Value {
    fn from(v: &Value) -> Self {
        v.clone()
    }
}

/// What may be a parameter, by reference (so that building a parameter list moves nothing).
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

macro_rules! to_value_via_from {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::from(*self)
            }
        }
    )*};
}
to_value_via_from!(i64, i32, u32, u64, i16, u16, u8, bool, f64);

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// A parameter list: `sql_params![a, b, c]` is `[a.to_value(), …]` (by reference: nothing is
/// moved), to pass as `&sql_params![…]`.
#[macro_export]
macro_rules! sql_params {
    () => {
        [] as [$crate::store::sql::Value; 0]
    };
    ($($x:expr),+ $(,)?) => {
        [$($crate::store::sql::ToValue::to_value(&$x)),+]
    };
}

// ---------------------------------------------------------------------------------------------
// SQLite (rusqlite)
// ---------------------------------------------------------------------------------------------

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(n) => ValueRef::Integer(*n),
            Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Value::Real(x) => ValueRef::Real(*x),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Int(n),
        ValueRef::Real(x) => Value::Real(x),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl Sql for rusqlite::Connection {
    fn exec(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let mut stmt = self.prepare_cached(sql)?;
        let n = stmt.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(n as u64)
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let mut stmt = self.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut cols = Vec::with_capacity(n);
            for i in 0..n {
                cols.push(sqlite_value(r.get_ref(i)?));
            }
            out.push(Row(cols));
        }
        Ok(out)
    }

    fn exec_batch(&self, sql: &str) -> Result<(), SqlError> {
        Ok(self.execute_batch(sql)?)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

impl Sql for rusqlite::Transaction<'_> {
    fn exec(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        (**self).exec(sql, params)
    }
    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        (**self).query(sql, params)
    }
    fn exec_batch(&self, sql: &str) -> Result<(), SqlError> {
        (**self).exec_batch(sql)
    }
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL (sync `postgres`)
// ---------------------------------------------------------------------------------------------

/// Rewrite `?N` placeholders to PostgreSQL's `$N`, leaving string literals, quoted identifiers
/// and comments untouched.
pub fn to_pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                // Up to the closing quote; a doubled quote is an escaped one and stays inside.
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == c {
                        if chars.peek() == Some(&c) {
                            out.push(chars.next().expect("peeked"));
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '?' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                out.push('$');
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    out.push(d);
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    out
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl postgres::types::ToSql for Value {
    /// Adapts to the type the server inferred for the parameter.
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, BoxError> {
        use postgres::types::{IsNull, Type};
        let int = |v: &Value| -> Result<i64, BoxError> {
            match v {
                Value::Int(n) => Ok(*n),
                Value::Bool(b) => Ok(i64::from(*b)),
                other => Err(format!("{other:?} given for a {ty} parameter").into()),
            }
        };
        if let Value::Null = self {
            return Ok(IsNull::Yes);
        }
        if *ty == Type::INT8 {
            int(self)?.to_sql(ty, out)
        } else if *ty == Type::INT4 {
            i32::try_from(int(self)?)?.to_sql(ty, out)
        } else if *ty == Type::INT2 {
            i16::try_from(int(self)?)?.to_sql(ty, out)
        } else if *ty == Type::BOOL {
            (int(self)? != 0).to_sql(ty, out)
        } else if *ty == Type::FLOAT8 || *ty == Type::FLOAT4 {
            let x = match self {
                Value::Real(x) => *x,
                v => int(v)? as f64,
            };
            if *ty == Type::FLOAT8 {
                x.to_sql(ty, out)
            } else {
                (x as f32).to_sql(ty, out)
            }
        } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
            match self {
                Value::Text(s) => s.as_str().to_sql(ty, out),
                v => Err(format!("{v:?} given for a {ty} parameter").into()),
            }
        } else if *ty == Type::BYTEA {
            match self {
                Value::Blob(b) => b.as_slice().to_sql(ty, out),
                Value::Text(s) => s.as_bytes().to_sql(ty, out),
                v => Err(format!("{v:?} given for a {ty} parameter").into()),
            }
        } else {
            Err(format!("{self:?} given for a {ty} parameter").into())
        }
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        [
            Type::INT8,
            Type::INT4,
            Type::INT2,
            Type::BOOL,
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::BYTEA,
            Type::FLOAT8,
            Type::FLOAT4,
        ]
        .contains(ty)
    }

    postgres::types::to_sql_checked!();
}

fn pg_value(row: &postgres::Row, i: usize) -> Result<Value, SqlError> {
    use postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    let v = if ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
    } else if ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map(|n| Value::Int(n.into()))
    } else if ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map(|n| Value::Int(n.into()))
    } else if ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?.map(Value::Bool)
    } else if ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i)?.map(Value::Real)
    } else if ty == Type::FLOAT4 {
        row.try_get::<_, Option<f32>>(i)?
            .map(|x| Value::Real(x.into()))
    } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(&ty) {
        row.try_get::<_, Option<String>>(i)?.map(Value::Text)
    } else if ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
    } else {
        return Err(SqlError::Type {
            column: i,
            what: format!("column type {ty} is not read by the store (CAST it to BIGINT or TEXT)"),
        });
    };
    Ok(v.unwrap_or(Value::Null))
}

/// Statements already prepared on one connection, by their text as the store writes it.
pub type PreparedCache = HashMap<String, postgres::Statement>;

/// One PostgreSQL transaction behind [`Sql`]. Statements are prepared once per connection (the
/// cache lives with the pooled connection; a prepared statement outlives a rolled-back
/// transaction).
pub struct PgTx<'a> {
    tx: RefCell<postgres::Transaction<'a>>,
    prepared: RefCell<&'a mut PreparedCache>,
}

impl<'a> PgTx<'a> {
    pub fn new(tx: postgres::Transaction<'a>, prepared: &'a mut PreparedCache) -> Self {
        PgTx {
            tx: RefCell::new(tx),
            prepared: RefCell::new(prepared),
        }
    }

    pub fn commit(self) -> Result<(), postgres::Error> {
        self.tx.into_inner().commit()
    }

    pub fn rollback(self) -> Result<(), postgres::Error> {
        self.tx.into_inner().rollback()
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement, SqlError> {
        if let Some(s) = self.prepared.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.borrow_mut().prepare(&to_pg_placeholders(sql))?;
        self.prepared
            .borrow_mut()
            .insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

impl Sql for PgTx<'_> {
    fn exec(&self, sql: &str, params: &[Value]) -> Result<u64, SqlError> {
        let stmt = self.statement(sql)?;
        Ok(self.tx.borrow_mut().execute(&stmt, &pg_params(params))?)
    }

    fn query(&self, sql: &str, params: &[Value]) -> Result<Vec<Row>, SqlError> {
        let stmt = self.statement(sql)?;
        let rows = self.tx.borrow_mut().query(&stmt, &pg_params(params))?;
        rows.iter()
            .map(|r| {
                Ok(Row((0..r.len())
                    .map(|i| pg_value(r, i))
                    .collect::<Result<_, _>>()?))
            })
            .collect()
    }

    fn exec_batch(&self, sql: &str) -> Result<(), SqlError> {
        Ok(self.tx.borrow_mut().batch_execute(sql)?)
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_literals_only() {
        assert_eq!(
            to_pg_placeholders(
                "SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12 -- ?3\n AND e = \"?4\" AND f = ?3"
            ),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12 -- ?3\n AND e = \"?4\" AND f = $3"
        );
        assert_eq!(
            to_pg_placeholders("SELECT 'it''s ?1', ?2"),
            "SELECT 'it''s ?1', $2"
        );
        assert_eq!(to_pg_placeholders("a ? b"), "a ? b");
    }

    #[test]
    fn sqlite_round_trips_values_and_rows() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        let s: &dyn Sql = &c;
        s.exec_batch("CREATE TABLE t (a INTEGER, b TEXT, c BLOB, d REAL)")
            .unwrap();
        let n = s
            .exec(
                "INSERT INTO t (a, b, c, d) VALUES (?1, ?2, ?3, ?4)",
                &crate::sql_params![7i64, "x", vec![1u8, 2], 1.5f64],
            )
            .unwrap();
        assert_eq!(n, 1);
        s.exec(
            "INSERT INTO t (a, b) VALUES (?1, ?2)",
            &crate::sql_params![None::<i64>, true],
        )
        .unwrap();
        let rows = s
            .query("SELECT a, b, c, d FROM t ORDER BY rowid", &[])
            .unwrap();
        assert_eq!(rows[0].get::<i64>(0).unwrap(), 7);
        assert_eq!(rows[0].get::<String>(1).unwrap(), "x");
        assert_eq!(rows[0].get::<Vec<u8>>(2).unwrap(), vec![1, 2]);
        assert_eq!(rows[0].get::<f64>(3).unwrap(), 1.5);
        assert_eq!(rows[1].get::<Option<i64>>(0).unwrap(), None);
        assert!(rows[1].get::<i64>(0).is_err(), "NULL is no integer");
        assert_eq!(s.one::<i64>("SELECT count(*) FROM t", &[]).unwrap(), 2);
        assert_eq!(
            s.opt::<i64>("SELECT a FROM t WHERE a = ?1", &crate::sql_params![99])
                .unwrap(),
            None
        );
        assert!(matches!(
            s.query_one("SELECT a FROM t WHERE a = 99", &[]),
            Err(SqlError::NoRow)
        ));
    }
}
