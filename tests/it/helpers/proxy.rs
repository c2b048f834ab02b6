//! A TCP relay on loopback between hopwatch and a server (its database),
//! that the test can cut and restore: what a node sees when its network
//! path to the database goes away and comes back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::LOCALHOST;

/// Relays connections on its own port to `target` until cut.
pub struct Relay {
    addr: SocketAddr,
    target: SocketAddr,
    /// The accept loop, and every relayed connection: aborted by a cut.
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
            target,
            tasks: Arc::default(),
        };
        relay.accept(listener);
        relay
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every relayed connection and refuses new ones.
    pub async fn cut(&self) {
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.tasks.lock().expect("relay"));
        for task in tasks {
            task.abort();
            // Awaited: the sockets are closed when `cut` returns.
            let _ = task.await;
        }
    }

    /// Relays again, on the same port.
    pub async fn restore(&self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("bind the relay again");
        self.accept(listener);
    }

    fn accept(&self, listener: TcpListener) {
        let tasks = self.tasks.clone();
        let target = self.target;
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let relayed = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().expect("relay").push(relayed);
            }
        });
        self.tasks.lock().expect("relay").push(accept);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for task in self.tasks.lock().expect("relay").iter() {
            task.abort();
        }
    }
}
