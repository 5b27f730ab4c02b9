//! The wire between the platform server (`src/server`) and its clients (`src/remote`): the
//! operations and their JSON bodies ([`ops`]), the mapping of every [`StoreError`] to an HTTP
//! status and a JSON error body and back ([`error`]), and the kiosk's signed identity ([`auth`]).
//! Typed data everywhere else; JSON only here, at the edge.
//!
//! [`StoreError`]: crate::store::StoreError

pub mod auth;
pub mod error;
pub mod heartbeat;
pub mod ops;

use sha2::{Digest, Sha256};

/// `hex(SHA-256(bytes))`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `n` random bytes from the operating system, as hex (idempotency keys, instance ids, keys).
pub fn random_hex(n: usize) -> String {
    hex::encode(random_bytes(n))
}

/// `n` random bytes from the operating system (`/dev/urandom`); should it be unreadable, a hash
/// of the process's random hasher state, the time and a counter (never for keys: [`auth`] refuses).
pub fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read as _;
    let mut buf = vec![0u8; n];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .is_ok()
    {
        return buf;
    }
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut d = Sha256::new();
        d.update(h.finish().to_le_bytes());
        d.update(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
                .to_le_bytes(),
        );
        d.update(std::process::id().to_le_bytes());
        out.extend_from_slice(&d.finalize());
    }
    out.truncate(n);
    out
}
