//! A TCP relay on loopback between hopwatch and a server (its database),
//! that the test can cut and restore: what a node sees when its network
//! path to the database goes away and comes back.

use std::net::SocketAddr;
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
    accept: JoinHandle<()>,
    relayed: Arc<Mutex<Relayed>>,
}

/// Whether the relay relays, and the connections it relays. One lock for
/// both: a connection accepted while a cut happens is either closed by the
/// cut or never relayed.
#[derive(Default)]
struct Relayed {
    cut: bool,
    tasks: Vec<JoinHandle<()>>,
}

impl Relay {
    /// A relay to `target` on a free loopback port, relaying.
    pub async fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind((LOCALHOST, 0))
            .await
            .expect("bind the relay");
        let addr = listener.local_addr().expect("the relay's address");
        let relayed = Arc::new(Mutex::new(Relayed::default()));
        let shared = relayed.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut relayed = shared.lock().expect("relay");
                if relayed.cut {
                    continue;
                }
                relayed.tasks.push(tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Relay {
            addr,
            accept,
            relayed,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every relayed connection and closes new ones on arrival.
    pub async fn cut(&self) {
        let tasks = {
            let mut relayed = self.relayed.lock().expect("relay");
            relayed.cut = true;
            std::mem::take(&mut relayed.tasks)
        };
        for task in tasks {
            task.abort();
            // Awaited: the sockets are closed when `cut` returns.
            let _ = task.await;
        }
    }

    /// Relays again.
    pub fn restore(&self) {
        self.relayed.lock().expect("relay").cut = false;
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
        for task in &self.relayed.lock().expect("relay").tasks {
            task.abort();
        }
    }
}
