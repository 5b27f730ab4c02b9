//! The thin SQL layer on PostgreSQL: `?N` placeholders, `Value` adapting to the parameter types
//! the server inferred, columns read back by type, and what it refuses.

mod support;

use kiosk::sql_params;
use kiosk::store::sql::{PgTx, PreparedCache, Sql, SqlError, Value};

#[test]
fn values_adapt_to_the_inferred_types_and_read_back() {
    let url = support::pg::fresh_database("sql_layer");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut cache = PreparedCache::new();
    let tx = PgTx::new(client.transaction().unwrap(), &mut cache);
    let s: &dyn Sql = &tx;
    s.exec_batch(
        "CREATE TABLE t (i8 BIGINT, i4 INTEGER, i2 SMALLINT, b BOOLEAN, t TEXT, v VARCHAR(20), y BYTEA, f DOUBLE PRECISION)",
    )
    .unwrap();
    let n = s
        .exec(
            "INSERT INTO t (i8, i4, i2, b, t, v, y, f) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &sql_params![
                i64::MAX,
                7i64,
                3i64,
                1i64,
                "it's ?1",
                "v",
                vec![0u8, 255],
                1.5f64
            ],
        )
        .unwrap();
    assert_eq!(n, 1);
    // NULL for any type; a bool into BOOLEAN; an int into DOUBLE PRECISION.
    s.exec(
        "INSERT INTO t (i8, i4, i2, b, t, v, y, f) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &sql_params![
            None::<i64>,
            None::<i64>,
            None::<i64>,
            false,
            None::<String>,
            None::<String>,
            None::<Vec<u8>>,
            2i64
        ],
    )
    .unwrap();
    let rows = s
        .query(
            "SELECT i8, i4, i2, b, t, v, y, f, '?1' FROM t WHERE i8 = ?1 OR i8 IS NULL ORDER BY i8 NULLS LAST",
            &sql_params![i64::MAX],
        )
        .unwrap();
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(r.get::<i64>(0).unwrap(), i64::MAX);
    assert_eq!(r.get::<i64>(1).unwrap(), 7);
    assert_eq!(r.get::<u32>(2).unwrap(), 3);
    assert!(r.get::<bool>(3).unwrap());
    assert_eq!(r.get::<String>(4).unwrap(), "it's ?1");
    assert_eq!(r.get::<String>(5).unwrap(), "v");
    assert_eq!(r.get::<Vec<u8>>(6).unwrap(), vec![0, 255]);
    assert_eq!(r.get::<f64>(7).unwrap(), 1.5);
    assert_eq!(
        r.get::<String>(8).unwrap(),
        "?1",
        "a literal is no placeholder"
    );
    let r = &rows[1];
    assert_eq!(r.0[0], Value::Null);
    assert_eq!(r.get::<Option<i64>>(1).unwrap(), None);
    assert!(!r.get::<bool>(3).unwrap());
    assert_eq!(r.get::<f64>(7).unwrap(), 2.0);
    // RETURNING, counts, and a sum cast back to BIGINT.
    let id: i64 = s
        .one(
            "INSERT INTO t (i8) VALUES (?1) RETURNING i8",
            &sql_params![5],
        )
        .unwrap();
    assert_eq!(id, 5);
    assert_eq!(s.one::<i64>("SELECT count(*) FROM t", &[]).unwrap(), 3);
    assert_eq!(
        s.one::<i64>("SELECT CAST(sum(i4) AS BIGINT) FROM t", &[])
            .unwrap(),
        7
    );
    // What the layer refuses, by name: a NUMERIC column, an out-of-range INTEGER, text for a number.
    let e = s.one::<i64>("SELECT sum(i8) FROM t", &[]).unwrap_err();
    assert!(
        matches!(&e, SqlError::Type { what, .. } if what.contains("CAST")),
        "{e}"
    );
    let e = s
        .exec("INSERT INTO t (i4) VALUES (?1)", &sql_params![i64::MAX])
        .unwrap_err();
    assert!(matches!(e, SqlError::Postgres(_)), "{e}");
}

#[test]
fn a_text_given_for_a_number_is_refused_not_coerced() {
    let url = support::pg::fresh_database("sql_refused");
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let mut cache = PreparedCache::new();
    let tx = PgTx::new(client.transaction().unwrap(), &mut cache);
    let s: &dyn Sql = &tx;
    s.exec_batch("CREATE TABLE n (x BIGINT)").unwrap();
    let e = s
        .exec("INSERT INTO n (x) VALUES (?1)", &sql_params!["12"])
        .unwrap_err();
    assert!(
        e.to_string().contains("BIGINT") || e.to_string().contains("int8"),
        "{e}"
    );
}

#[test]
fn migrations_run_once_even_when_two_servers_start_together_and_a_newer_database_is_refused() {
    use kiosk::store::PgPlatform;
    let url = support::pg::fresh_database("migrations");
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgPlatform::connect_demo(&url, 1).map(|_| ()))
        })
        .collect();
    for s in starts {
        s.join()
            .unwrap()
            .expect("every start migrates or finds the schema current");
    }
    assert_eq!(
        support::pg::query_i64(
            &url,
            "SELECT version FROM schema_migrations ORDER BY version"
        ),
        (1..=kiosk::store::schema::PG_MIGRATIONS.len() as i64).collect::<Vec<_>>()
    );
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute("INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)")
        .unwrap();
    let e = PgPlatform::connect_demo(&url, 1).unwrap_err();
    assert_eq!(e.code(), "database_unusable", "{e}");
    assert!(e.to_string().contains("upgrade"), "{e}");
}

/// Migration 8's kiosk_events indexes: the same names, columns and partial predicate on both
/// backends (read from each database's catalogue).
#[test]
fn kiosk_events_indexes_are_the_same_on_both_backends() {
    use kiosk::store::{PgPlatform, SqlitePlatform, schema};
    let lite = SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap();
    let mut sqlite: Vec<(String, String, bool)> = lite
        .read_sql(|tx| {
            let mut out = Vec::new();
            for r in tx.query(
                "SELECT name, partial FROM pragma_index_list('kiosk_events') WHERE origin = 'c'",
                &[],
            )? {
                let name: String = r.get(0)?;
                let cols: Vec<String> = tx.column(
                    &format!("SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"),
                    &[],
                )?;
                out.push((name, cols.join(", "), r.get::<i64>(1)? == 1));
            }
            Ok(out)
        })
        .unwrap();
    let url = support::pg::fresh_database("events_indexes");
    let pg = PgPlatform::connect_demo(&url, 1).unwrap();
    let mut postgres: Vec<(String, String, bool)> = pg
        .read_sql(|tx| {
            let mut out = Vec::new();
            for r in tx.query(
                "SELECT indexname::text, indexdef FROM pg_indexes
                 WHERE tablename = 'kiosk_events' AND indexname <> 'kiosk_events_pkey'",
                &[],
            )? {
                let def: String = r.get(1)?;
                let cols = def
                    .split_once("btree (")
                    .and_then(|(_, rest)| rest.split_once(')'))
                    .map(|(cols, _)| cols.to_string())
                    .unwrap_or_default();
                out.push((r.get(0)?, cols, def.contains(" WHERE ")));
            }
            Ok(out)
        })
        .unwrap();
    sqlite.sort();
    postgres.sort();
    assert_eq!(sqlite, postgres);
    assert_eq!(
        sqlite,
        vec![
            ("kiosk_events_by_kind".into(), "kind, at, id".into(), false),
            (
                "kiosk_events_by_kiosk_kind".into(),
                "kiosk_id, kind, at, id".into(),
                false
            ),
            (
                "kiosk_events_other_by_kiosk".into(),
                "kiosk_id, at, id".into(),
                true
            ),
        ]
    );
}

/// The fleet page's look-ups and the retention sweep's use migration 8's indexes on both backends (EXPLAIN on PostgreSQL,
/// EXPLAIN QUERY PLAN on SQLite, after `kiosk bench fleet`'s fill of 5 kiosks × 3 days and
/// ANALYZE), never a scan of the whole table; `db check` stays clean.
#[test]
fn the_fleet_queries_use_the_kiosk_events_indexes_on_both_backends() {
    use kiosk::store::bench_fleet::{FleetBenchOptions, run};
    use kiosk::store::{PgPlatform, SqlitePlatform, schema};
    let opts = FleetBenchOptions {
        kiosks: 5,
        days: 3,
        calls: 1,
        keep_days: None,
    };
    let now: jiff::Timestamp = "2026-12-07T03:00:00Z".parse().unwrap();
    let lite = SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap();
    let url = support::pg::fresh_database("fleet_plans");
    let pg = PgPlatform::connect_demo(&url, 1).unwrap();
    let reports = [run(&lite, opts, now).unwrap(), run(&pg, opts, now).unwrap()];
    assert!(lite.check().unwrap().ok() && pg.check().unwrap().ok());
    for r in &reports {
        assert_eq!(
            (r.fleet_kiosks, r.open_staff_calls, r.schema_version),
            (5, 5, 8),
            "{r:?}"
        );
        let plan_of = |name: &str| {
            r.plans
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| p.join("\n"))
                .unwrap_or_else(|| panic!("no plan for {name}"))
        };
        for (query, index) in [
            ("last_heartbeats", "kiosk_events_by_kiosk_kind"),
            ("last_other_events", "kiosk_events_other_by_kiosk"),
            ("problems_since", "kiosk_events_by_kind"),
            ("staff_calls_since", "kiosk_events_by_kind"),
            ("retention_kinds", "kiosk_events_by_kind"),
            ("retention_batch", "kiosk_events_by_kind"),
        ] {
            let plan = plan_of(query);
            assert!(plan.contains(index), "{} {query}:\n{plan}", r.backend);
            assert!(
                !plan.contains("Seq Scan on kiosk_events")
                    && !plan.lines().any(|l| l.trim() == "SCAN kiosk_events"),
                "{} {query} scans the table:\n{plan}",
                r.backend
            );
        }
    }
}
