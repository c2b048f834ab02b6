//! Builds and wires the daemon's parts (store, writer, pipeline, scheduler,
//! web), runs them, reloads the config on SIGHUP or file change, shuts down.

pub mod checks;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::alert;
use crate::alert::manager::{Manager, ManagerMessage};
use crate::alert::outbox::Dispatcher;
use crate::clock::unix_ms;
use crate::cluster::leader::LeaderParts;
use crate::cluster::membership::Members;
use crate::cluster::{self, ClusterError};
use crate::config::compile::CompileError;
use crate::config::{self, LoadedConfig, NodeIdentity};
use crate::evaluate::Maintenance;
use crate::fdlimit;
use crate::live::{Live, Setup};
use crate::metrics::Metrics;
use crate::monitor::{Monitor, ProbeSpec};
use crate::pipeline::{Connectivity, Pipeline};
use crate::probe::Prober;
use crate::push::PushBoard;
use crate::schedule::{DEFAULT_CONCURRENCY, Scheduler};
use crate::store::history::History;
use crate::store::writer::{StoreHealth, Writer};
use crate::store::{Store, StoreError, retention, series_key};
use crate::web::{self, AppState, serve};

/// How often the config file's modification time is looked at.
const RELOAD_POLL: Duration = Duration::from_secs(2);
/// From the shutdown signal to the store closed, at most (the contract
/// allows 10 s; the rest is the process exiting).
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(9);
/// Checks still running this long after the signal are abandoned without a
/// result, so that one slow target cannot hold the exit past the budget.
const CHECK_DRAIN: Duration = Duration::from_secs(5);
/// Results that may queue for the writer before checks wait for it.
const WRITER_QUEUE: usize = 65_536;

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// `server.listen` could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The web server's runtime (its threads) could not be started.
    #[error("cannot start the web server's threads: {0}")]
    WebRuntime(std::io::Error),
    /// A part of the config could not be built (validation should have caught it).
    #[error("{0}")]
    Config(String),
    /// A monitor could not be compiled (validation should have caught it).
    #[error(transparent)]
    Monitor(#[from] CompileError),
    /// This node cannot be, or stay, part of its cluster.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// Who judges alerts and sends the outbox.
enum Alerts {
    /// One node alone: it always does.
    Alone {
        manager: Box<Manager>,
        dispatcher: Dispatcher,
    },
    /// A cluster: whichever node holds the lease, term by term.
    Cluster {
        parts: LeaderParts,
        incarnation: i64,
    },
}

/// A built daemon, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    scheduler: Scheduler,
    store: Store,
    run_id: i64,
    writer_task: JoinHandle<()>,
    writer_stop: CancellationToken,
    connectivity: Arc<Connectivity>,
    alerts: Alerts,
    manager_inbox: mpsc::Receiver<ManagerMessage>,
    manager_outbox: mpsc::Sender<ManagerMessage>,
    /// The cluster's members as last read (one node alone: none).
    members: Members,
    extra_routes: Option<axum::Router>,
    web_limits: serve::Limits,
}

impl Application {
    /// Opens the store, binds the listener and starts the monitors.
    pub async fn build(loaded: LoadedConfig) -> Result<Self, AppError> {
        let server = &loaded.config.server;
        let listener =
            TcpListener::bind(&server.listen)
                .await
                .map_err(|source| AppError::Listen {
                    addr: server.listen.clone(),
                    source,
                })?;
        let web_limits = serve::Limits {
            max_connections: fdlimit::connection_cap(
                fdlimit::current().soft,
                server.max_connections,
            ),
            ..serve::Limits::default()
        };
        tracing::info!(
            max_connections = web_limits.max_connections,
            header_read_timeout = ?web_limits.header_read_timeout,
            "web clients are capped"
        );
        let location = loaded
            .config
            .storage
            .location()
            .map_err(|message| AppError::Store(StoreError::Url(message)))?;
        let store = Store::open_at(&location).await?;
        let last_alive = store.last_alive().await?;
        let known = store.known_monitors().await?;
        let started = SystemTime::now();
        let run_id = store.start_run(started).await?;
        let metrics = Arc::new(Metrics::new());
        let store_health = Arc::new(StoreHealth::default());
        let history = Arc::new(History::load(&store, unix_ms(started)).await?);
        let (mut writer, results) = Writer::start(
            store.clone(),
            run_id,
            WRITER_QUEUE,
            store_health.clone(),
            metrics.clone(),
            history.clone(),
            last_alive,
        )
        .await?;
        let writer_stop = CancellationToken::new();
        let connectivity = Arc::new(Connectivity::default());
        let config = Arc::new(loaded);
        let notifiers = alert::build_notifiers(&config.config.notifiers)
            .map_err(|err| AppError::Config(err.to_string()))?;
        let identity = config
            .config
            .node
            .identity(|var| std::env::var(var).ok())
            .map_err(AppError::Config)?;
        // In a cluster the name is taken first: a second node of one name
        // must not check or write anything.
        let incarnation = incarnation();
        let members = if store.is_shared() {
            cluster::membership::join(&store, &identity, incarnation).await?;
            let rows = store.cluster_nodes().await?;
            Members::from_rows(&rows, &identity)
        } else {
            // On SQLite this node's checks carry no node id: they read back
            // with its name.
            store.name_this_node(&identity.name).await?;
            Members::default()
        };
        let setup = setup(config.clone(), &store, &identity, &members).await?;
        let monitors = cluster::assigned(&setup, &members.here);
        let live = Live::new(setup);
        let alerts = if store.is_shared() {
            // Leading waits for the lease.
            metrics.set_node(&identity.name, &identity.region, false);
            live.peers().set_leading(false);
            live.peers().set_checking(monitors.len());
            Alerts::Cluster {
                parts: LeaderParts {
                    store: store.clone(),
                    live: live.clone(),
                    metrics: metrics.clone(),
                    notifiers,
                },
                incarnation,
            }
        } else {
            // One node alone is its own leader: it alone judges and sends.
            metrics.set_node(&identity.name, &identity.region, true);
            let wake = Arc::new(Notify::new());
            let dispatcher = Dispatcher::new(
                store.clone(),
                &notifiers,
                metrics.clone(),
                wake.clone(),
                live.clone(),
            );
            let manager =
                Manager::start(store.clone(), live.clone(), metrics.clone(), wake).await?;
            Alerts::Alone {
                manager: Box::new(manager),
                dispatcher,
            }
        };
        let (manager_outbox, manager_inbox) = mpsc::channel(WRITER_QUEUE);
        let pipeline = Pipeline::new(
            results,
            manager_outbox.clone(),
            metrics.clone(),
            connectivity.clone(),
            live.clone(),
        );
        let push = PushBoard::default();
        let concurrency = config
            .config
            .server
            .max_concurrent_checks
            .unwrap_or(DEFAULT_CONCURRENCY);
        let mut scheduler = Scheduler::new(
            concurrency,
            metrics.clone(),
            checks::start_task(Arc::new(Prober::default()), pipeline.clone(), push.clone()),
            checks::forget(pipeline.clone(), push.clone()),
        );
        if let Some(last_alive) = last_alive {
            let (now, region) = (unix_ms(started), &*identity.region);
            record_gap(&mut writer, &monitors, &known, last_alive, now, region);
        }
        let writer_task = tokio::spawn(writer.run(writer_stop.clone()));
        scheduler.apply(monitors);
        let state = AppState {
            store: store.clone(),
            store_health,
            history,
            live,
            metrics,
            push,
            pipeline,
            scheduler_beat: Arc::new(AtomicI64::new(0)),
            limits: Arc::default(),
        };
        state.beat();
        Ok(Self {
            listener,
            state,
            scheduler,
            store,
            run_id,
            writer_task,
            writer_stop,
            connectivity,
            alerts,
            manager_inbox,
            manager_outbox,
            members,
            extra_routes: None,
            web_limits,
        })
    }

    /// Serves more routes beside hopwatch's own (the demo's webhook sink).
    pub fn add_routes(&mut self, routes: axum::Router) {
        self.extra_routes = Some(match self.extra_routes.take() {
            Some(existing) => existing.merge(routes),
            None => routes,
        });
    }

    /// The address the web server listens on (port 0 in tests becomes real).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Shared state, for tests and the demo.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs until `shutdown` completes. Checks, results, alerts and the
    /// writer run on the caller's runtime (`hopwatch run` gives them one
    /// thread, the process's main thread); the web server runs on a
    /// [`serve::WebRuntime`] of its own, threads named `hopwatch-web`.
    /// Then drains within 9 s whatever web clients do: the web server stops accepting (and drops its clients
    /// after a 2 s grace), running checks finish (abandoned after 5 s), the
    /// writer flushes, alerts stop, the store closes.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Result<(), AppError> {
        // Checks stay on this runtime, which has one thread: cheaper per
        // check than a pool. The web gets its own, so a crowd of clients
        // waits for web threads and never delays a check. Started first, so
        // that failing to leaves nothing running.
        let web = serve::WebRuntime::start().map_err(AppError::WebRuntime)?;
        let background = CancellationToken::new();
        let config = self.state.config();
        let path = config.path.clone();
        tokio::spawn(heartbeat(self.state.clone(), background.clone()));
        let alerts_stop = CancellationToken::new();
        let (members_tx, mut members_rx) = watch::channel(self.members.clone());
        let lost = CancellationToken::new();
        let mut cluster_identity = None;
        let checked_names =
            |scheduler: &Scheduler| Arc::new(scheduler.names().into_iter().collect::<HashSet<_>>());
        let (checked_tx, checked_rx) = watch::channel(checked_names(&self.scheduler));
        // Set in a cluster: who leads, so only the leader thins.
        let mut leading = None;
        let (manager_task, dispatcher_task) = match self.alerts {
            Alerts::Alone {
                manager,
                dispatcher,
            } => {
                let mut inbox = self.manager_inbox;
                let stop = alerts_stop.clone();
                let manager = tokio::spawn(async move { manager.run(&mut inbox, stop).await });
                (
                    manager,
                    Some(tokio::spawn(dispatcher.run(alerts_stop.clone()))),
                )
            }
            Alerts::Cluster { parts, incarnation } => {
                let identity = self.state.live.setup().identity.clone();
                let (term_tx, term_rx) = watch::channel(None);
                leading = Some(term_rx.clone());
                tokio::spawn(cluster::lease::run(
                    self.store.clone(),
                    identity.clone(),
                    incarnation,
                    term_tx,
                    background.clone(),
                ));
                tokio::spawn(cluster::membership::run(
                    self.store.clone(),
                    self.state.live.clone(),
                    incarnation,
                    members_tx,
                    lost.clone(),
                    background.clone(),
                ));
                tokio::spawn(cluster::tail::run(
                    self.store.clone(),
                    self.state.live.clone(),
                    self.manager_outbox.clone(),
                    checked_rx,
                    background.clone(),
                ));
                cluster_identity = Some((identity, incarnation));
                let leader =
                    cluster::leader::run(parts, self.manager_inbox, term_rx, alerts_stop.clone());
                (tokio::spawn(leader), None)
            }
        };
        tokio::spawn(retention::run(
            self.store.clone(),
            config.config.storage.retention,
            config.config.storage.keep_healthy,
            leading,
            background.clone(),
        ));
        if let Some(target) = config.config.server.connectivity_check.clone() {
            tokio::spawn(watch_connectivity(
                target,
                self.connectivity.clone(),
                background.clone(),
            ));
        }
        let server_stop = CancellationToken::new();
        let mut router = web::router(self.state.clone());
        if let Some(extra) = self.extra_routes.take() {
            router = router.merge(extra);
        }
        let server_task = web
            .serve(self.listener, router, self.web_limits, server_stop.clone())
            .map_err(|source| AppError::Listen {
                addr: config.config.server.listen.clone(),
                source,
            })?;
        tracing::info!(monitors = self.scheduler.names().len(), "hopwatch running");

        let mut hangup = hangup_signal();
        let mut poll = tokio::time::interval(RELOAD_POLL);
        let mut last_modified = modified(&path);
        let mut shutdown = std::pin::pin!(shutdown);
        let mut outcome = Ok(());
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = lost.cancelled() => {
                    let identity = self.state.live.setup().identity.clone();
                    outcome = Err(AppError::Cluster(ClusterError::NameTaken {
                        name: identity.name.to_string(),
                        region: identity.region.to_string(),
                    }));
                    break;
                }
                _ = hangup.recv() => reload(&mut self.scheduler, &self.state, &self.store, &self.manager_outbox, &path, &self.members, "SIGHUP").await,
                changed = members_rx.changed(), if cluster_identity.is_some() => {
                    if changed.is_err() {
                        continue;
                    }
                    let members = members_rx.borrow_and_update().clone();
                    let new_region = members.regions != self.members.regions;
                    self.members = members;
                    if new_region {
                        // A region's first node: every monitor needs its series there.
                        reload(&mut self.scheduler, &self.state, &self.store, &self.manager_outbox, &path, &self.members, "a new region").await;
                    } else {
                        self.scheduler.apply(cluster::assigned(&self.state.live.setup(), &self.members.here));
                    }
                    self.state.live.peers().set_checking(self.scheduler.names().len());
                }
                _ = poll.tick() => {
                    let now = modified(&path);
                    if now != last_modified {
                        last_modified = now;
                        reload(&mut self.scheduler, &self.state, &self.store, &self.manager_outbox, &path, &self.members, "file change").await;
                    }
                }
            }
            if cluster_identity.is_none() {
                continue;
            }
            checked_tx.send_if_modified(|checked| {
                let now = checked_names(&self.scheduler);
                let changed = **checked != *now;
                *checked = now;
                changed
            });
        }

        tracing::info!("shutting down: letting running checks finish");
        let deadline = tokio::time::Instant::now() + SHUTDOWN_BUDGET;
        // The web server stops accepting now and drops whoever is still
        // connected after its grace, while the checks drain.
        server_stop.cancel();
        self.scheduler.shutdown(CHECK_DRAIN).await;
        // Results first: the writer flushes what the checks produced.
        self.writer_stop.cancel();
        finish("the result writer", self.writer_task, deadline).await;
        // The dispatcher finishes the send in progress (so a message the
        // receiver took is marked sent); what is left waits in the outbox.
        // One cut off at the deadline is sent again at the next start, under
        // the same delivery id.
        alerts_stop.cancel();
        finish("the alert manager", manager_task, deadline).await;
        if let Some(dispatcher_task) = dispatcher_task {
            finish("the alert dispatcher", dispatcher_task, deadline).await;
        }
        background.cancel();
        if let Some((identity, incarnation)) = cluster_identity {
            // The others take over this node's work and lead at once.
            if let Err(err) = self.store.leave_cluster(&identity.name, incarnation).await {
                tracing::warn!(error = %err, "cannot tell the cluster this node leaves");
            }
        }
        // No handler may be reading when the store closes.
        finish("the web server", server_task, deadline).await;
        // Its threads go too; what a handler handed to its blocking pool
        // (a /metrics render) is not waited for.
        drop(web);
        if let Err(err) = self.store.stop_run(self.run_id, SystemTime::now()).await {
            tracing::warn!(error = %err, "cannot record the clean stop");
        }
        self.store.close().await;
        tracing::info!("stopped");
        outcome
    }
}

/// Waits for a part's task until `deadline`; past it the task is aborted,
/// so that one stuck part cannot hold the exit past the contract's 10 s.
async fn finish<T>(what: &str, mut task: JoinHandle<T>, deadline: tokio::time::Instant) {
    if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
        tracing::warn!("{what} did not stop before the shutdown deadline; abandoned");
        task.abort();
    }
}

/// The time since the previous run was last alive is counted as unknown
/// for every monitor that existed then (a restart within two intervals is
/// not a gap: the schedule barely moved).
fn record_gap(
    writer: &mut Writer,
    monitors: &[Arc<Monitor>],
    known: &HashMap<String, i64>,
    last_alive: i64,
    now: i64,
    region: &str,
) {
    for monitor in monitors {
        let interval = monitor.interval.as_millis() as i64;
        let key = series_key(&monitor.name, region);
        let Some(created) = known.get(&key) else {
            continue;
        };
        let from = last_alive.max(*created);
        if now - from > 2 * interval {
            writer.add_gap(monitor.id, from, now, interval);
        }
    }
}

/// Everything a config gives the live state: its monitors compiled with
/// their store ids (rows made for new ones) and its maintenance windows.
async fn setup(
    config: Arc<LoadedConfig>,
    store: &Store,
    identity: &NodeIdentity,
    members: &Members,
) -> Result<Setup, AppError> {
    let maintenance = Maintenance::new(&config.config.maintenance, &config.config.monitors)
        .map_err(|err| AppError::Config(err.to_string()))?;
    let mut compiled = config.compile()?;
    // Each monitor's series here, and in the regions of the agents and
    // the cluster's other nodes that check it.
    let elsewhere: BTreeSet<&str> = (config.config.agents.iter().map(|a| &*a.region))
        .chain(members.regions.iter().map(|r| &**r))
        .filter(|region| *region != &*identity.region)
        .collect();
    let mut keys = Vec::new();
    for monitor in &compiled {
        keys.push(series_key(&monitor.name, &identity.region));
        if matches!(monitor.spec, ProbeSpec::Push) {
            continue;
        }
        for region in &elsewhere {
            let assigned = monitor
                .regions
                .as_ref()
                .is_none_or(|regions| regions.iter().any(|r| &**r == *region));
            if assigned {
                keys.push(series_key(&monitor.name, region));
            }
        }
    }
    keys.sort();
    keys.dedup();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut ids = store.monitor_ids(&key_refs).await?;
    for monitor in &mut compiled {
        let key = series_key(&monitor.name, &identity.region);
        monitor.id = ids.remove(&key).ok_or_else(|| {
            AppError::Monitor(CompileError {
                name: monitor.name.clone(),
                message: "no store id".to_owned(),
            })
        })?;
    }
    let monitors = compiled
        .into_iter()
        .map(|m| (m.name.clone(), Arc::new(m)))
        .collect();
    Ok(Setup {
        config,
        monitors,
        maintenance,
        identity: identity.clone(),
        series: ids,
    })
}

/// Loads the config again; a broken one is refused (every error logged)
/// and the running one stays.
async fn reload(
    scheduler: &mut Scheduler,
    state: &AppState,
    store: &Store,
    alerts: &mpsc::Sender<ManagerMessage>,
    path: &Path,
    members: &Members,
    why: &str,
) {
    let loaded = match config::load(path) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for error in &errors.errors {
                tracing::error!("{error}");
            }
            tracing::error!(
                trigger = why,
                "config reload refused; the previous config keeps running"
            );
            return;
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let previous = state.config();
    if previous.config.server.listen != loaded.config.server.listen
        || previous.config.storage.location() != loaded.config.storage.location()
    {
        tracing::warn!("server.listen and storage changes take effect at the next restart");
    }
    // Compared as values: their Debug hides secrets, so a changed password
    // would not show in it.
    if previous.config.notifiers != loaded.config.notifiers {
        tracing::warn!("notifier changes take effect at the next restart");
    }
    let loaded = Arc::new(loaded);
    match setup(loaded.clone(), store, &state.live.setup().identity, members).await {
        Ok(setup) => {
            scheduler.apply(cluster::assigned(&setup, &members.here));
            state.live.replace(setup);
            let _ = alerts.send(ManagerMessage::Reconfigure).await;
            tracing::info!(
                trigger = why,
                monitors = scheduler.names().len(),
                "config reloaded"
            );
        }
        Err(err) => {
            tracing::error!(trigger = why, error = %err, "config reload refused; the previous config keeps running")
        }
    }
}

/// A random number for this process's start: tells its heartbeats and
/// lease from those of an earlier process of the same name.
fn incarnation() -> i64 {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 8];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        // No system randomness: the start time and process id differ too.
        let nanos = unix_ms(SystemTime::now()).wrapping_mul(1_000_003);
        return nanos ^ i64::from(std::process::id());
    }
    i64::from_le_bytes(bytes)
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// SIGHUP on Unix; elsewhere a receiver that never fires.
fn hangup_signal() -> tokio::signal::unix::Signal {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup()).expect("installing a SIGHUP handler works on Unix")
}

/// Beats once a second so `/healthz` can tell a stuck runtime.
async fn heartbeat(state: AppState, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => state.beat(),
        }
    }
}

/// Connects to `server.connectivity_check` every 5 s.
async fn watch_connectivity(
    target: String,
    connectivity: Arc<Connectivity>,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let attempt = tokio::time::timeout(
            Duration::from_secs(3),
            tokio::net::TcpStream::connect(target.as_str()),
        )
        .await;
        connectivity.set(matches!(attempt, Ok(Ok(_))));
    }
}
