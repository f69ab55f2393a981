//! A TCP proxy that counts round trips, shared by the benches that report them
//! (`#[path = "wire.rs"] mod wire;`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A TCP proxy that counts round trips: each time the client sends after the server
/// last sent (or first), one more.
pub(crate) async fn counting_proxy(target: String) -> (String, Arc<AtomicU64>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let trips = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&trips);
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let outbound = tokio::net::TcpStream::connect(&target).await.unwrap();
            let (mut ci, mut co) = inbound.into_split();
            let (mut si, mut so) = outbound.into_split();
            // true: the server spoke last.
            let server_last = Arc::new(AtomicBool::new(true));
            let (sl, trips) = (Arc::clone(&server_last), Arc::clone(&counter));
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                while let Ok(n @ 1..) = ci.read(&mut buf).await {
                    if sl.swap(false, Ordering::SeqCst) {
                        trips.fetch_add(1, Ordering::SeqCst);
                    }
                    if so.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65_536];
                while let Ok(n @ 1..) = si.read(&mut buf).await {
                    server_last.store(true, Ordering::SeqCst);
                    if co.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, trips)
}
