//! A webhook endpoint on loopback that records every request and answers
//! as the test tells it (a status, or never in time).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::task::JoinHandle;

use super::LOCALHOST;

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Never answers in time.
    Hang,
}

/// One request as the receiver saw it.
struct Seen {
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    answer: Arc<Mutex<Reply>>,
}

/// A webhook endpoint on loopback, stopped on drop.
pub struct Receiver {
    shared: Shared,
    port: u16,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    shared
        .seen
        .lock()
        .expect("receiver lock")
        .push(Seen { headers, body });
    let answer = *shared.answer.lock().expect("receiver lock");
    match answer {
        Reply::Status(code) => {
            let status = StatusCode::from_u16(code).expect("a valid status");
            (status, "receiver says: not now\n").into_response()
        }
        Reply::Hang => {
            // Far beyond the client's timeout; bounded so the task ends.
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
    }
}

impl Receiver {
    pub async fn start(answer: Reply) -> Receiver {
        let shared = Shared {
            seen: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind((LOCALHOST, 0))
            .await
            .expect("bind the receiver");
        let port = listener.local_addr().expect("bound").port();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("receiver runs");
        });
        Receiver { shared, port, task }
    }

    pub fn url(&self) -> String {
        format!("http://{LOCALHOST}:{}/hook", self.port)
    }

    pub fn seen(&self) -> Vec<(HeaderMap, Bytes)> {
        let seen = self.shared.seen.lock().expect("receiver lock");
        seen.iter()
            .map(|s| (s.headers.clone(), s.body.clone()))
            .collect()
    }
}
