//! How every outside service's simulator serves (Alipay, Alibaba SMS, face, WeCom): its axum
//! router on a one-worker tokio runtime of its own, either on the caller's thread until the
//! process ends (`kiosk sim …`) or on a named background thread (tests, the demo kiosk).

use std::net::SocketAddr;

/// Why a simulator could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the simulator's runtime: {0}")]
    Runtime(std::io::Error),
}

/// Serve `router` on `listen` until the process ends; `ready` is told the address listened on
/// (port 0 picks one) before the first request is answered.
pub fn serve(
    listen: SocketAddr,
    router: axum::Router,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(ServeError::Runtime)?;
        ready(addr);
        axum::serve(listener, router)
            .await
            .map_err(ServeError::Runtime)
    })
}

/// [`serve`] on a background thread named `name`; returns what `handle` makes of the address
/// once it listens. The thread serves until the process ends.
pub fn spawn<T: Send + 'static>(
    name: &str,
    listen: SocketAddr,
    router: axum::Router,
    handle: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> Result<T, ServeError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let failed = tx.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            if let Err(e) = serve(listen, router, |addr| {
                let _ = tx.send(Ok(handle(addr)));
            }) {
                let _ = failed.send(Err(e));
            }
        })
        .map_err(ServeError::Runtime)?;
    rx.recv()
        .map_err(|_| ServeError::Runtime(std::io::Error::other("the simulator thread ended")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spawned_simulator_answers_and_a_taken_address_is_named() {
        let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let addr = spawn(
            "t-sim",
            "127.0.0.1:0".parse().unwrap(),
            router.clone(),
            |a| a,
        )
        .unwrap();
        let body = ureq::get(format!("http://{addr}/"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        assert_eq!(body, "ok");
        let err = spawn("t-sim", addr, router, |a| a).unwrap_err();
        assert!(
            matches!(&err, ServeError::Listen { addr: a, .. } if *a == addr),
            "{err}"
        );
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}
