//! The one module that owns the schema: connection settings and versioned migrations, for SQLite
//! (`PRAGMA user_version`) and for PostgreSQL (the `schema_migrations` table, [`PG_MIGRATIONS`]:
//! the same tables, unique keys and audit chain, every integer `BIGINT`). Version N means the same
//! tables on both. Every other module of the store reads and writes these tables only.
//!
//! Times are stored as INTEGER Unix seconds (UTC), civil dates as `YYYY-MM-DD` text, money as
//! INTEGER fen, status sets as their concatenated one-letter codes (`"HS"`).

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// How long a writer waits for another kiosk's transaction before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations, in order; migration `i` brings `user_version` from `i` to `i + 1`.
/// Never edit a published migration: append a new one.
pub const MIGRATIONS: &[&str] = &[
    MIGRATION_1,
    MIGRATION_2,
    MIGRATION_3,
    MIGRATION_4,
    MIGRATION_5,
    MIGRATION_6,
    MIGRATION_7,
    MIGRATION_8,
];

/// The audit chain's anchors (`store::audit`): an HMAC-SHA256 of each entry under a key kept
/// out of the database, append-only like the log.
const MIGRATION_7: &str = r#"
CREATE TABLE audit_anchors (
    seq              INTEGER PRIMARY KEY,
    key_id           TEXT NOT NULL,
    mac              TEXT NOT NULL
);
CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
    BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END;
CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
    BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END;
"#;

/// `kiosk_events` at a city's scale (a heartbeat a minute from every kiosk, 144,000 rows a day
/// for 100 kiosks): the indexes the fleet page's look-ups (`store::platform::fleet`) and the
/// retention sweep need, the same names and columns on both backends. `(kiosk_id, at)` goes:
/// nothing reads by it that `(kiosk_id, kind, at, id)` does not serve.
/// - `kiosk_events_by_kiosk_kind`: the kiosks that reported (a skip scan over `kiosk_id`) and
///   each one's last heartbeat (one descent each);
/// - `kiosk_events_by_kind`: today's problems, the open staff calls newest first, and the
///   retention sweep (old rows kind by kind);
/// - `kiosk_events_other_by_kiosk`: each kiosk's last event that is not a heartbeat, over the
///   few rows that are not heartbeats only.
const MIGRATION_8: &str = r#"
DROP INDEX kiosk_events_by_kiosk;
CREATE INDEX kiosk_events_by_kiosk_kind ON kiosk_events(kiosk_id, kind, at, id);
CREATE INDEX kiosk_events_by_kind ON kiosk_events(kind, at, id);
CREATE INDEX kiosk_events_other_by_kiosk ON kiosk_events(kiosk_id, at, id)
    WHERE kind <> 'heartbeat';
"#;

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

const MIGRATION_1: &str = r#"
-- 人员 (a person known to the platform: the police register's copy).
CREATE TABLE persons (
    id               INTEGER PRIMARY KEY,
    id_number        TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    phone            TEXT NOT NULL,
    address          TEXT NOT NULL DEFAULT '',
    -- 注册用户: set when the person registered with phone + SMS code.
    registered_phone TEXT,
    registered_at    INTEGER
);

-- 驾驶证 (at most one per person).
CREATE TABLE licences (
    person_id        INTEGER PRIMARY KEY REFERENCES persons(id),
    licence_class    TEXT NOT NULL,
    first_issued     TEXT NOT NULL,
    cycle_start      TEXT NOT NULL,
    -- points recorded by the police network in the current scoring cycle
    cycle_points     INTEGER NOT NULL CHECK (cycle_points >= 0),
    -- points of handlings not yet confirmed back (六.3, 七.2); kept equal to the open decisions
    pending_points   INTEGER NOT NULL DEFAULT 0 CHECK (pending_points >= 0),
    status           TEXT NOT NULL,
    full_12_count    INTEGER NOT NULL DEFAULT 0 CHECK (full_12_count >= 0)
);

-- 单位 (a company owning vehicles) with the manager phone it registered (三.3).
CREATE TABLE units (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    credit_code      TEXT NOT NULL UNIQUE,
    manager_phone    TEXT NOT NULL
);

-- 机动车.
CREATE TABLE vehicles (
    id               INTEGER PRIMARY KEY,
    plate            TEXT NOT NULL,
    plate_type       TEXT NOT NULL,
    use_code         TEXT NOT NULL,
    status           TEXT NOT NULL,
    owner_person_id  INTEGER REFERENCES persons(id),
    owner_unit_id    INTEGER REFERENCES units(id),
    UNIQUE (plate, plate_type),
    CHECK ((owner_person_id IS NULL) <> (owner_unit_id IS NULL))
);
CREATE INDEX vehicles_by_owner ON vehicles(owner_person_id);

-- 备案 (三.2, 三.3).
CREATE TABLE filings (
    id               INTEGER PRIMARY KEY,
    person_id        INTEGER NOT NULL REFERENCES persons(id),
    vehicle_id       INTEGER NOT NULL REFERENCES vehicles(id),
    method           TEXT NOT NULL CHECK (method IN ('owner_qr', 'owner_sms', 'unit_manager_sms')),
    state            TEXT NOT NULL CHECK (state IN ('pending_review', 'approved', 'rejected', 'withdrawn')),
    requested_at     INTEGER NOT NULL,
    reviewed_at      INTEGER,
    withdrawn_at     INTEGER,
    review_note      TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX filings_one_active ON filings(person_id, vehicle_id)
    WHERE state IN ('pending_review', 'approved');
CREATE INDEX filings_by_vehicle ON filings(vehicle_id, state);
CREATE INDEX filings_by_person ON filings(person_id, state);

-- 租赁合同 (四.4): the renter, or a temporary driver filed on the contract.
CREATE TABLE rentals (
    id               INTEGER PRIMARY KEY,
    vehicle_id       INTEGER NOT NULL REFERENCES vehicles(id),
    person_id        INTEGER NOT NULL REFERENCES persons(id),
    role             TEXT NOT NULL CHECK (role IN ('renter', 'temp_driver')),
    start_at         INTEGER NOT NULL,
    end_at           INTEGER NOT NULL,
    filed_at         INTEGER NOT NULL,
    CHECK (start_at <= end_at)
);
CREATE INDEX rentals_by_person ON rentals(person_id);

-- 交通违法记录.
CREATE TABLE violations (
    id               TEXT PRIMARY KEY,
    vehicle_id       INTEGER NOT NULL REFERENCES vehicles(id),
    occurred_at      INTEGER NOT NULL,
    place            TEXT NOT NULL,
    description      TEXT NOT NULL,
    province         TEXT NOT NULL,
    province_online  INTEGER NOT NULL CHECK (province_online IN (0, 1)),
    recorded_by      TEXT NOT NULL CHECK (recorded_by IN ('camera', 'officer')),
    penalty          TEXT NOT NULL CHECK (penalty IN ('warning', 'fine', 'other')),
    fine_fen         INTEGER NOT NULL CHECK (fine_fen >= 0),
    points           INTEGER NOT NULL CHECK (points >= 0),
    authority        TEXT NOT NULL,
    authority_address TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'handled', 'paid')),
    -- the decision currently covering it (NULL while pending)
    decision_id      INTEGER REFERENCES decisions(id)
);
CREATE INDEX violations_by_vehicle ON violations(vehicle_id, state);

-- 处罚决定 (one per violation): made here ('kiosk') or elsewhere (a counter, an officer).
CREATE TABLE decisions (
    id               INTEGER PRIMARY KEY,
    number           TEXT NOT NULL UNIQUE,
    violation_id     TEXT NOT NULL REFERENCES violations(id),
    person_id        INTEGER NOT NULL REFERENCES persons(id),
    channel          TEXT NOT NULL CHECK (channel IN ('kiosk', 'elsewhere')),
    kiosk_id         TEXT NOT NULL DEFAULT '',
    decided_at       INTEGER NOT NULL,
    payment_deadline INTEGER NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('handled_unpaid', 'paid', 'reverted')),
    fine_fen         INTEGER NOT NULL,
    points           INTEGER NOT NULL,
    -- set when the police network confirmed the points (then they are no longer pending)
    confirmed_at     INTEGER,
    reverted_at      INTEGER
);
-- 六.3: a violation has at most one live decision, whatever channel or kiosk asks.
CREATE UNIQUE INDEX decisions_one_live ON decisions(violation_id) WHERE state <> 'reverted';
CREATE INDEX decisions_open ON decisions(state, payment_deadline);
CREATE INDEX decisions_by_person ON decisions(person_id, state);

-- 缴款.
CREATE TABLE payments (
    id               INTEGER PRIMARY KEY,
    decision_id      INTEGER NOT NULL UNIQUE REFERENCES decisions(id),
    idempotency_key  TEXT NOT NULL UNIQUE,
    method           TEXT NOT NULL,
    transaction_no   TEXT NOT NULL UNIQUE,
    fine_fen         INTEGER NOT NULL,
    surcharge_fen    INTEGER NOT NULL,
    fee_fen          INTEGER NOT NULL CHECK (fee_fen = 0),
    total_fen        INTEGER NOT NULL,
    paid_at          INTEGER NOT NULL
);

-- 回执 (kept for reprint).
CREATE TABLE receipts (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('handling', 'payment')),
    decision_id      INTEGER NOT NULL REFERENCES decisions(id),
    payment_id       INTEGER REFERENCES payments(id),
    body             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    UNIQUE (kind, decision_id)
);

-- 短信发件箱: the demo gateway writes here; a real gateway marks sent_at.
CREATE TABLE sms_outbox (
    id               INTEGER PRIMARY KEY,
    phone            TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    code             TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    used_at          INTEGER
);
CREATE INDEX sms_by_purpose ON sms_outbox(purpose, phone);

-- 意见反馈.
CREATE TABLE feedback (
    id               INTEGER PRIMARY KEY,
    person_id        INTEGER REFERENCES persons(id),
    kiosk_id         TEXT NOT NULL,
    category         TEXT NOT NULL,
    text             TEXT NOT NULL,
    created_at       INTEGER NOT NULL
);

-- Payment notifications already accepted (replay protection).
CREATE TABLE payment_nonces (
    nonce            TEXT PRIMARY KEY,
    received_at      INTEGER NOT NULL
);

-- Append-only audit log with a SHA-256 hash chain.
CREATE TABLE audit_log (
    seq              INTEGER PRIMARY KEY,
    at               INTEGER NOT NULL,
    action           TEXT NOT NULL,
    subject          TEXT NOT NULL,
    detail           TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE meta (
    key              TEXT PRIMARY KEY,
    value            TEXT NOT NULL
);
"#;

const MIGRATION_2: &str = r#"
-- Wrong SMS codes are counted; a code is burned after too many (guessing six digits).
ALTER TABLE sms_outbox ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
-- Every decision of a violation, reverted ones included (db check, reprints).
CREATE INDEX decisions_by_violation ON decisions(violation_id);
"#;

const MIGRATION_3: &str = r#"
-- The platform server's idempotency ledger (store::idempotency): per kiosk, an idempotency key,
-- the request's fingerprint, and the response once the operation finished. A record still
-- in flight names the server instance running it; another instance takes it over.
CREATE TABLE idempotency (
    kiosk_id     TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    instance     TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('in_flight', 'done')),
    status       INTEGER,
    response     BLOB,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (kiosk_id, key)
);
"#;

/// What kiosks report about themselves; on PostgreSQL also decision ids from a sequence
/// ([`PG_MIGRATION_4`]; on SQLite the write lock already serialises `max(id) + 1`).
const MIGRATION_4: &str = r#"
-- What kiosks report about themselves (printer out of paper / back, a device failure, went
-- offline / online), with the authenticated kiosk's id. Never personal data.
CREATE TABLE kiosk_events (
    id           INTEGER PRIMARY KEY,
    kiosk_id     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX kiosk_events_by_kiosk ON kiosk_events(kiosk_id, at);
"#;

/// Payment orders (issue 12): one per decision, opened with the payment provider for the amount
/// due; a payment is recorded only when the provider confirms the order is paid. `state`:
/// `open`, `paid`, `refund_pending` (money arrived after the 六.2 revert), `refunded`, `closed`
/// (reverted unpaid; money still arriving for it is refunded).
const MIGRATION_5: &str = r#"
CREATE TABLE payment_orders (
    decision_id  INTEGER PRIMARY KEY REFERENCES decisions(id),
    out_trade_no TEXT    NOT NULL UNIQUE,
    provider     TEXT    NOT NULL,
    amount_fen   INTEGER NOT NULL CHECK (amount_fen >= 0),
    qr_code      TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('open', 'paid', 'refund_pending', 'refunded', 'closed')),
    trade_no     TEXT,
    created_at   INTEGER NOT NULL,
    settled_at   INTEGER
);
CREATE INDEX payment_orders_by_state ON payment_orders(state);
"#;

/// Errors opening or migrating a database file.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "数据库版本{found}比本程序支持的版本{supported}更新，请升级自助机软件 / The database (version {found}) is newer than this program supports ({supported}); upgrade the kiosk software"
    )]
    TooNew { found: i64, supported: i64 },
    #[error(
        "{0} 是一个目录，不是数据库文件；请给出文件路径（如 city.sqlite3） / {0} is a directory, not a database file; give the path of a file (e.g. city.sqlite3)"
    )]
    IsDirectory(String),
    /// SQLite's own words appear once, in the sentence (not again as a source).
    #[error("{}", storage_message(.0))]
    Sqlite(rusqlite::Error),
    #[error("{}", pg_storage_message(.0))]
    Postgres(postgres::Error),
    #[error("{}", pool_message(.0))]
    Pool(r2d2::Error),
    #[error(
        "数据库地址无效：{0} / The database URL is not valid: {0} (expected postgres://USER@HOST:PORT/DB)"
    )]
    BadUrl(String),
}

impl From<postgres::Error> for SchemaError {
    fn from(e: postgres::Error) -> Self {
        SchemaError::Postgres(e)
    }
}

impl From<r2d2::Error> for SchemaError {
    fn from(e: r2d2::Error) -> Self {
        SchemaError::Pool(e)
    }
}

/// What a PostgreSQL failure means, in Chinese and English, with the server's words once.
pub fn pg_storage_message(e: &postgres::Error) -> String {
    use postgres::error::SqlState;
    let what = match e.code() {
        None if e.is_closed() => {
            "与数据库服务器的连接已断开 / The connection to the database server was lost"
        }
        None => {
            "无法连接数据库服务器 / The database server cannot be reached; check that it runs and the URL"
        }
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            "数据库正忙，请稍后再试 / The database is busy with concurrent requests; try again in a moment"
        }
        Some(c) if *c == SqlState::DISK_FULL => {
            "数据库服务器磁盘已满，数据未写入 / The database server's disk is full and nothing was written"
        }
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
            "没有访问数据库的权限 / Permission denied on the database"
        }
        _ => "数据库出错，请联系工作人员 / The database failed; ask the staff",
    };
    format!("{what} ({})", super::sql::describe_pg(e))
}

/// The pool could not hand out a connection in time.
pub fn pool_message(e: &r2d2::Error) -> String {
    format!(
        "无法连接数据库服务器 / The database server cannot be reached; check that it runs and the URL ({e})"
    )
}

impl From<rusqlite::Error> for SchemaError {
    fn from(e: rusqlite::Error) -> Self {
        SchemaError::Sqlite(e)
    }
}

/// What a SQLite failure means and what to do, in Chinese and English, with SQLite's words once.
pub fn storage_message(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode::*;
    let what = match e.sqlite_error_code() {
        Some(DiskFull) => {
            "磁盘已满，数据未写入；请清理数据库所在磁盘的空间后重试 / The disk is full and nothing was written; free space on the disk that holds the database, then retry"
        }
        Some(CannotOpen) => {
            "无法打开数据库文件：所在目录不存在、路径是目录或没有权限 / The database file cannot be opened: its folder does not exist, the path is a directory, or permission is denied"
        }
        Some(NotADatabase) | Some(DatabaseCorrupt) => {
            "该文件已损坏或不是自助机数据库；请从备份恢复 / The file is damaged or is not a kiosk database; restore it from a backup"
        }
        Some(ReadOnly) | Some(PermissionDenied) => {
            "没有写入数据库的权限 / The database cannot be written: permission denied or read-only"
        }
        Some(SystemIoFailure) => {
            "读写磁盘失败，请检查磁盘 / Reading or writing the disk failed; check the disk"
        }
        Some(DatabaseBusy) | Some(DatabaseLocked) => {
            "数据库正忙，请稍后再试 / The database is busy; try again in a moment"
        }
        _ => "数据库出错，请联系工作人员 / The database failed; ask the staff",
    };
    format!("{what} ({e})")
}

/// SMS codes hashed, never in clear (issue 12, item 4): `sms_outbox` (code and message in clear)
/// is dropped — codes in flight are lost, they lived 5 minutes — and `sms_codes` keeps per code a
/// random salt and HMAC-SHA256(salt, phone, purpose, code), cleared once the code is used, burned
/// or expired; rows stay a day for the limits (`store::sms::LIMITS`). `(phone, sent_minute)` is
/// unique: two servers sending to one phone within the same minute collide on it.
const MIGRATION_6: &str = r#"
DROP TABLE sms_outbox;
CREATE TABLE sms_codes (
    id               INTEGER PRIMARY KEY,
    phone            TEXT    NOT NULL,
    purpose          TEXT    NOT NULL,
    kiosk_id         TEXT    NOT NULL,
    salt             TEXT,
    code_hash        TEXT,
    created_at       INTEGER NOT NULL,
    sent_minute      INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    used_at          INTEGER,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    delivery         TEXT    NOT NULL CHECK (delivery IN ('pending', 'sent', 'failed')),
    provider_ref     TEXT,
    UNIQUE (phone, sent_minute),
    CHECK ((salt IS NULL) = (code_hash IS NULL))
);
CREATE INDEX sms_codes_by_phone ON sms_codes(phone, created_at);
CREATE INDEX sms_codes_by_purpose ON sms_codes(purpose, phone);
CREATE INDEX sms_codes_by_kiosk ON sms_codes(kiosk_id, created_at);
CREATE INDEX sms_codes_by_time ON sms_codes(created_at);
"#;

/// The PostgreSQL migrations, in order; migration `i` is recorded as version `i + 1` in
/// `schema_migrations`. The same versions as [`MIGRATIONS`]: never edit a published one.
pub const PG_MIGRATIONS: &[&str] = &[
    PG_MIGRATION_1,
    PG_MIGRATION_2,
    PG_MIGRATION_3,
    PG_MIGRATION_4,
    PG_MIGRATION_5,
    PG_MIGRATION_6,
    PG_MIGRATION_7,
    PG_MIGRATION_8,
];

/// The kiosk events' indexes, as [`MIGRATION_8`]. (`CREATE INDEX` without `CONCURRENTLY`, in
/// the migration's transaction: kiosk events wait while it builds — see `kiosk bench fleet`'s
/// `open_and_migrate_seconds` for how long on a given table; the kiosks' outboxes retry.)
const PG_MIGRATION_8: &str = MIGRATION_8;

/// The audit chain's anchors, as [`MIGRATION_7`].
const PG_MIGRATION_7: &str = r#"
CREATE TABLE audit_anchors (
    seq              BIGINT PRIMARY KEY,
    key_id           TEXT NOT NULL,
    mac              TEXT NOT NULL
);
CREATE FUNCTION audit_anchors_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_anchors is append-only';
END
$$;
CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
    FOR EACH ROW EXECUTE FUNCTION audit_anchors_append_only();
CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
    FOR EACH ROW EXECUTE FUNCTION audit_anchors_append_only();
CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors
    FOR EACH STATEMENT EXECUTE FUNCTION audit_anchors_append_only();
"#;

const PG_MIGRATION_1: &str = r#"
CREATE TABLE persons (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id_number        TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL,
    phone            TEXT NOT NULL,
    address          TEXT NOT NULL DEFAULT '',
    registered_phone TEXT,
    registered_at    BIGINT
);

CREATE TABLE licences (
    person_id        BIGINT PRIMARY KEY REFERENCES persons(id),
    licence_class    TEXT NOT NULL,
    first_issued     TEXT NOT NULL,
    cycle_start      TEXT NOT NULL,
    cycle_points     BIGINT NOT NULL CHECK (cycle_points >= 0),
    pending_points   BIGINT NOT NULL DEFAULT 0 CHECK (pending_points >= 0),
    status           TEXT NOT NULL,
    full_12_count    BIGINT NOT NULL DEFAULT 0 CHECK (full_12_count >= 0)
);

CREATE TABLE units (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    name             TEXT NOT NULL,
    credit_code      TEXT NOT NULL UNIQUE,
    manager_phone    TEXT NOT NULL
);

CREATE TABLE vehicles (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    plate            TEXT NOT NULL,
    plate_type       TEXT NOT NULL,
    use_code         TEXT NOT NULL,
    status           TEXT NOT NULL,
    owner_person_id  BIGINT REFERENCES persons(id),
    owner_unit_id    BIGINT REFERENCES units(id),
    UNIQUE (plate, plate_type),
    CHECK ((owner_person_id IS NULL) <> (owner_unit_id IS NULL))
);
CREATE INDEX vehicles_by_owner ON vehicles(owner_person_id);

CREATE TABLE filings (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    person_id        BIGINT NOT NULL REFERENCES persons(id),
    vehicle_id       BIGINT NOT NULL REFERENCES vehicles(id),
    method           TEXT NOT NULL CHECK (method IN ('owner_qr', 'owner_sms', 'unit_manager_sms')),
    state            TEXT NOT NULL CHECK (state IN ('pending_review', 'approved', 'rejected', 'withdrawn')),
    requested_at     BIGINT NOT NULL,
    reviewed_at      BIGINT,
    withdrawn_at     BIGINT,
    review_note      TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX filings_one_active ON filings(person_id, vehicle_id)
    WHERE state IN ('pending_review', 'approved');
CREATE INDEX filings_by_vehicle ON filings(vehicle_id, state);
CREATE INDEX filings_by_person ON filings(person_id, state);

CREATE TABLE rentals (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    vehicle_id       BIGINT NOT NULL REFERENCES vehicles(id),
    person_id        BIGINT NOT NULL REFERENCES persons(id),
    role             TEXT NOT NULL CHECK (role IN ('renter', 'temp_driver')),
    start_at         BIGINT NOT NULL,
    end_at           BIGINT NOT NULL,
    filed_at         BIGINT NOT NULL,
    CHECK (start_at <= end_at)
);
CREATE INDEX rentals_by_person ON rentals(person_id);

CREATE TABLE violations (
    id               TEXT PRIMARY KEY,
    vehicle_id       BIGINT NOT NULL REFERENCES vehicles(id),
    occurred_at      BIGINT NOT NULL,
    place            TEXT NOT NULL,
    description      TEXT NOT NULL,
    province         TEXT NOT NULL,
    province_online  BIGINT NOT NULL CHECK (province_online IN (0, 1)),
    recorded_by      TEXT NOT NULL CHECK (recorded_by IN ('camera', 'officer')),
    penalty          TEXT NOT NULL CHECK (penalty IN ('warning', 'fine', 'other')),
    fine_fen         BIGINT NOT NULL CHECK (fine_fen >= 0),
    points           BIGINT NOT NULL CHECK (points >= 0),
    authority        TEXT NOT NULL,
    authority_address TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'handled', 'paid')),
    decision_id      BIGINT
);
CREATE INDEX violations_by_vehicle ON violations(vehicle_id, state);

-- Decisions are numbered by the store (max(id) + 1 inside the write transaction): no identity.
CREATE TABLE decisions (
    id               BIGINT PRIMARY KEY,
    number           TEXT NOT NULL UNIQUE,
    violation_id     TEXT NOT NULL REFERENCES violations(id),
    person_id        BIGINT NOT NULL REFERENCES persons(id),
    channel          TEXT NOT NULL CHECK (channel IN ('kiosk', 'elsewhere')),
    kiosk_id         TEXT NOT NULL DEFAULT '',
    decided_at       BIGINT NOT NULL,
    payment_deadline BIGINT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('handled_unpaid', 'paid', 'reverted')),
    fine_fen         BIGINT NOT NULL,
    points           BIGINT NOT NULL,
    confirmed_at     BIGINT,
    reverted_at      BIGINT
);
ALTER TABLE violations ADD FOREIGN KEY (decision_id) REFERENCES decisions(id);
-- 六.3: a violation has at most one live decision, whatever channel or kiosk asks.
CREATE UNIQUE INDEX decisions_one_live ON decisions(violation_id) WHERE state <> 'reverted';
CREATE INDEX decisions_open ON decisions(state, payment_deadline);
CREATE INDEX decisions_by_person ON decisions(person_id, state);

CREATE TABLE payments (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    decision_id      BIGINT NOT NULL UNIQUE REFERENCES decisions(id),
    idempotency_key  TEXT NOT NULL UNIQUE,
    method           TEXT NOT NULL,
    transaction_no   TEXT NOT NULL UNIQUE,
    fine_fen         BIGINT NOT NULL,
    surcharge_fen    BIGINT NOT NULL,
    fee_fen          BIGINT NOT NULL CHECK (fee_fen = 0),
    total_fen        BIGINT NOT NULL,
    paid_at          BIGINT NOT NULL
);

CREATE TABLE receipts (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('handling', 'payment')),
    decision_id      BIGINT NOT NULL REFERENCES decisions(id),
    payment_id       BIGINT REFERENCES payments(id),
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    UNIQUE (kind, decision_id)
);

CREATE TABLE sms_outbox (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    phone            TEXT NOT NULL,
    purpose          TEXT NOT NULL,
    code             TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT
);
CREATE INDEX sms_by_purpose ON sms_outbox(purpose, phone);

CREATE TABLE feedback (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    person_id        BIGINT REFERENCES persons(id),
    kiosk_id         TEXT NOT NULL,
    category         TEXT NOT NULL,
    text             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);

CREATE TABLE payment_nonces (
    nonce            TEXT PRIMARY KEY,
    received_at      BIGINT NOT NULL
);

-- Append-only audit log with a SHA-256 hash chain; seq is the chain's order (no gaps).
CREATE TABLE audit_log (
    seq              BIGINT PRIMARY KEY,
    at               BIGINT NOT NULL,
    action           TEXT NOT NULL,
    subject          TEXT NOT NULL,
    detail           TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE meta (
    key              TEXT PRIMARY KEY,
    value            TEXT NOT NULL
);
"#;

const PG_MIGRATION_2: &str = r#"
ALTER TABLE sms_outbox ADD COLUMN failed_attempts BIGINT NOT NULL DEFAULT 0;
CREATE INDEX decisions_by_violation ON decisions(violation_id);
"#;

/// The idempotency ledger, as [`MIGRATION_3`].
const PG_MIGRATION_3: &str = r#"
CREATE TABLE idempotency (
    kiosk_id     TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    instance     TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('in_flight', 'done')),
    status       BIGINT,
    response     BYTEA,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (kiosk_id, key)
);
"#;

/// What kiosks report about themselves, and decision ids from a sequence: `nextval` never
/// waits for or conflicts with another transaction, so concurrent handlings on the server no
/// longer all read `max(id)` (a serialization conflict for every pair of them under SERIALIZABLE).
const PG_MIGRATION_4: &str = r#"
CREATE TABLE kiosk_events (
    id           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kiosk_id     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    detail       TEXT    NOT NULL,
    at           BIGINT  NOT NULL
);
CREATE INDEX kiosk_events_by_kiosk ON kiosk_events(kiosk_id, at);
CREATE SEQUENCE decision_ids;
SELECT setval('decision_ids', COALESCE((SELECT max(id) FROM decisions), 0) + 1, false);
"#;

/// As [`MIGRATION_6`].
const PG_MIGRATION_6: &str = r#"
DROP TABLE sms_outbox;
CREATE TABLE sms_codes (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    phone            TEXT    NOT NULL,
    purpose          TEXT    NOT NULL,
    kiosk_id         TEXT    NOT NULL,
    salt             TEXT,
    code_hash        TEXT,
    created_at       BIGINT  NOT NULL,
    sent_minute      BIGINT  NOT NULL,
    expires_at       BIGINT  NOT NULL,
    used_at          BIGINT,
    failed_attempts  BIGINT  NOT NULL DEFAULT 0,
    delivery         TEXT    NOT NULL CHECK (delivery IN ('pending', 'sent', 'failed')),
    provider_ref     TEXT,
    UNIQUE (phone, sent_minute),
    CHECK ((salt IS NULL) = (code_hash IS NULL))
);
CREATE INDEX sms_codes_by_phone ON sms_codes(phone, created_at);
CREATE INDEX sms_codes_by_purpose ON sms_codes(purpose, phone);
CREATE INDEX sms_codes_by_kiosk ON sms_codes(kiosk_id, created_at);
CREATE INDEX sms_codes_by_time ON sms_codes(created_at);
"#;

/// Payment orders, as [`MIGRATION_5`].
const PG_MIGRATION_5: &str = r#"
CREATE TABLE payment_orders (
    decision_id  BIGINT  PRIMARY KEY REFERENCES decisions(id),
    out_trade_no TEXT    NOT NULL UNIQUE,
    provider     TEXT    NOT NULL,
    amount_fen   BIGINT  NOT NULL CHECK (amount_fen >= 0),
    qr_code      TEXT    NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('open', 'paid', 'refund_pending', 'refunded', 'closed')),
    trade_no     TEXT,
    created_at   BIGINT  NOT NULL,
    settled_at   BIGINT
);
CREATE INDEX payment_orders_by_state ON payment_orders(state);
"#;

/// Bring a PostgreSQL database up to date: each migration in its own transaction with its row in
/// `schema_migrations`, under an advisory lock so that two servers starting at once migrate once.
pub fn migrate_pg(client: &mut postgres::Client) -> Result<i64, SchemaError> {
    /// An arbitrary key for `pg_advisory_xact_lock`, the store's migration lock.
    const LOCK: i64 = 0x6b69_6f73_6b00_0001;
    let supported = PG_MIGRATIONS.len() as i64;
    loop {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 applied_at BIGINT NOT NULL
             )",
        )?;
        let version: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )?
            .get(0);
        if version > supported {
            return Err(SchemaError::TooNew {
                found: version,
                supported,
            });
        }
        if version == supported {
            tx.commit()?;
            return Ok(version);
        }
        tx.batch_execute(PG_MIGRATIONS[version as usize])?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            &[&(version + 1), &jiff::Timestamp::now().as_second()],
        )?;
        tx.commit()?;
        tracing::info!(version = version + 1, "PostgreSQL database migrated");
    }
}

/// Whether a database path names a PostgreSQL server rather than a SQLite file.
pub fn is_postgres_url(path: &str) -> bool {
    path.starts_with("postgres://") || path.starts_with("postgresql://")
}

/// Apply the connection settings every connection needs.
pub fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        tracing::warn!(mode, "journal_mode WAL refused");
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

/// Bring the schema up to date; each migration runs in its own transaction with its version bump.
pub fn migrate(conn: &mut Connection) -> Result<i64, SchemaError> {
    let supported = current_version();
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > supported {
            return Err(SchemaError::TooNew {
                found: version,
                supported,
            });
        }
        if version == supported {
            tx.commit()?;
            return Ok(version);
        }
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "database migrated");
    }
}

/// Open (creating if needed) a database file, configured and migrated.
pub fn open(path: &Path) -> Result<Connection, SchemaError> {
    if path.is_dir() {
        return Err(SchemaError::IsDirectory(path.display().to_string()));
    }
    let mut conn = Connection::open(path)?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// A fresh in-memory database with the schema (for tests).
pub fn open_in_memory() -> Result<Connection, SchemaError> {
    let mut conn = Connection::open_in_memory()?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_bring_a_new_file_to_the_current_version_with_wal_and_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let conn = open(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, current_version());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
        drop(conn);
        // Reopening is a no-op.
        let conn = open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM persons", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn a_version_1_database_is_migrated_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let mut c = Connection::open(&path).unwrap();
        configure(&c).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute(
            "INSERT INTO sms_outbox (phone, purpose, code, body, created_at, expires_at) VALUES ('13800000000', 'register', '123456', 'b', 0, 1)",
            [],
        )
        .unwrap();
        assert_eq!(migrate(&mut c).unwrap(), current_version());
        // Version 6 drops the outbox that kept codes in clear; its hashed successor is empty.
        let tables: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'sms_outbox'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "no table keeps codes in clear");
        let codes: i64 = c
            .query_row("SELECT count(*) FROM sms_codes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(codes, 0);
    }

    /// Migration 8 on a version 7 file: its kiosk events stay, `(kiosk_id, at)` is replaced by
    /// the fleet page's indexes.
    #[test]
    fn a_version_7_database_keeps_its_kiosk_events_and_gets_their_indexes() {
        let mut c = Connection::open_in_memory().unwrap();
        configure(&c).unwrap();
        for (i, m) in MIGRATIONS[..7].iter().enumerate() {
            c.execute_batch(m).unwrap();
            c.pragma_update(None, "user_version", i as i64 + 1).unwrap();
        }
        c.execute(
            "INSERT INTO kiosk_events (kiosk_id, kind, detail, at) VALUES ('K1', 'heartbeat', '{}', 5)",
            [],
        )
        .unwrap();
        assert_eq!(migrate(&mut c).unwrap(), 8);
        let n: i64 = c
            .query_row("SELECT count(*) FROM kiosk_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        let mut names: Vec<String> = c
            .prepare("SELECT name FROM pragma_index_list('kiosk_events') WHERE origin = 'c'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        names.sort();
        assert_eq!(
            names,
            [
                "kiosk_events_by_kind",
                "kiosk_events_by_kiosk_kind",
                "kiosk_events_other_by_kiosk"
            ]
        );
    }

    #[test]
    fn a_database_from_a_newer_program_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        drop(open(&path).unwrap());
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
        drop(c);
        let err = open(&path).unwrap_err();
        assert!(
            matches!(err, SchemaError::TooNew { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade"));
    }

    #[test]
    fn the_audit_log_refuses_updates_and_deletes() {
        let conn = open_in_memory().unwrap();
        conn.execute(
            "INSERT INTO audit_log (at, action, subject, detail, prev_hash, hash) VALUES (0,'a','s','{}','','h')",
            [],
        )
        .unwrap();
        assert!(
            conn.execute("UPDATE audit_log SET action = 'b'", [])
                .is_err()
        );
        assert!(conn.execute("DELETE FROM audit_log", []).is_err());
    }

    #[test]
    fn a_directory_is_named_as_such_not_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let e = open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("is a directory") && !e.contains("damaged"),
            "{e}"
        );
    }

    /// ENOSPC reaches SQLite as SQLITE_FULL: say the disk is full and what to do, not "later".
    #[test]
    fn a_full_disk_says_so_and_what_to_do() {
        let full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        for e in [
            SchemaError::from(full).to_string(),
            crate::store::StoreError::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                None,
            ))
            .to_string(),
        ] {
            assert!(e.contains("磁盘已满") && e.contains("disk is full"), "{e}");
            assert!(e.contains("free space") && !e.contains("later"), "{e}");
        }
    }

    /// The SQLite error text appears once in the whole chain of causes.
    #[test]
    fn the_cause_is_said_once() {
        let e = SchemaError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some("unable to open database file".into()),
        ));
        assert!(std::error::Error::source(&e).is_none());
        let text = e.to_string();
        assert_eq!(
            text.matches("unable to open database file").count(),
            1,
            "{text}"
        );
    }
}
