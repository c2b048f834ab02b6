//! A TCP relay on loopback between hopwatch and a server (its database),
//! that the test can cut and restore: what a node sees when its network
//! path to the database goes away and comes back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::LOCALHOST;

/// Relays connections on its own port to `target` until cut.
///
/// The port stays bound while cut: connections are accepted and closed at
/// once. Giving it up would let the kernel hand it out meanwhile, even to a
/// client connecting to it (loopback connects to a free port of the
/// ephemeral range can connect to themselves), and a restore could then not
/// bind it again.
pub struct Relay {
    addr: SocketAddr,
    open: Arc<AtomicBool>,
    /// The accept loop, and every relayed connection.
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    /// A relay to `target` on a free loopback port, relaying.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind((LOCALHOST, 0))
            .await
            .expect("bind the relay");
        let relay = Relay {
            addr: listener.local_addr().expect("the relay's address"),
            open: Arc::new(AtomicBool::new(true)),
            tasks: Arc::default(),
        };
        let (tasks, open) = (relay.tasks.clone(), relay.open.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !open.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let relayed = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().expect("relay").push(relayed);
            }
        });
        relay.tasks.lock().expect("relay").push(accept);
        relay
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every relayed connection and closes new ones on arrival.
    pub async fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        // The first task is the accept loop, which stays.
        let relayed: Vec<JoinHandle<()>> = self.tasks.lock().expect("relay").drain(1..).collect();
        for task in relayed {
            task.abort();
            // Awaited: the sockets are closed when `cut` returns.
            let _ = task.await;
        }
    }

    /// Relays again.
    pub async fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for task in self.tasks.lock().expect("relay").iter() {
            task.abort();
        }
    }
}
