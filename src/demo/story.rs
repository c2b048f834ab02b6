//! The demo's script: healthy, origin crash, healthy, gateway misroute,
//! healthy, slow origin, healthy, overloaded origin, healthy, DNS failure,
//! healthy, inventory not serving; then again. Each scene says what to look
//! for.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::dns::NameServer;
use super::grpc::Inventory;
use super::servers::{Gateway, Origin, SLOW_ORIGIN};
use super::sink::Sink;

/// One scene of the story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    /// Everything works.
    Healthy,
    /// The origin process dies: the gateway answers 502 itself.
    OriginCrash,
    /// The gateway points at a port where nothing listens; the origin is fine.
    GatewayMisroute,
    /// The origin answers, but slower than the gateway waits: 504.
    SlowOrigin,
    /// The origin is up but sheds load: 503 with `Retry-After`.
    OverloadedOrigin,
    /// The name server stops knowing the shop's name: NXDOMAIN.
    DnsFailure,
    /// The inventory service behind the shop is up but its gRPC health
    /// says NOT_SERVING, as a service says when what it needs is gone.
    InventoryNotServing,
}

impl Scene {
    /// What the console and the sink page say.
    pub fn caption(self) -> &'static str {
        match self {
            Scene::Healthy => "all healthy",
            Scene::OriginCrash => {
                "the origin crashed: the gateway answers 502; expect one alert with verdict origin"
            }
            Scene::GatewayMisroute => {
                "the gateway is misrouted while the origin is healthy: expect verdict gateway"
            }
            Scene::SlowOrigin => {
                "the origin is slower than the gateway's patience: 504, expect verdict origin_slow"
            }
            Scene::OverloadedOrigin => {
                "the origin sheds load with 503 and Retry-After: expect one alert, http_503, verdict origin"
            }
            Scene::DnsFailure => {
                "the name server forgot shop.demo.test (NXDOMAIN): expect an alert on shop-dns, verdict dns"
            }
            Scene::InventoryNotServing => {
                "the inventory service lost its stock database and its gRPC health says NOT_SERVING: expect an alert on shop-inventory, grpc_not_serving, verdict origin"
            }
        }
    }
}

/// The order of scenes; fault scenes last twice as long as healthy ones.
/// Eighteen beats of 17 s: the story takes about five minutes.
pub const SCRIPT: [(Scene, u32); 12] = [
    (Scene::Healthy, 1),
    (Scene::OriginCrash, 2),
    (Scene::Healthy, 1),
    (Scene::GatewayMisroute, 2),
    (Scene::Healthy, 1),
    (Scene::SlowOrigin, 2),
    (Scene::Healthy, 1),
    (Scene::OverloadedOrigin, 2),
    (Scene::Healthy, 1),
    (Scene::DnsFailure, 2),
    (Scene::Healthy, 1),
    (Scene::InventoryNotServing, 2),
];

/// What the story acts on.
pub struct Cast<'a> {
    /// The application server.
    pub origin: &'a Origin,
    /// The proxy in front of it.
    pub gateway: &'a Gateway,
    /// A port where nothing listens: the misrouted gateway's target.
    pub nowhere: SocketAddr,
    /// The name server of the shop's name.
    pub names: &'a NameServer,
    /// The gRPC service the shop keeps its stock in.
    pub inventory: &'a Inventory,
}

/// Plays the script until `stop`; `cycles` limits it (None: forever).
pub async fn play(
    cast: Cast<'_>,
    sink: &Sink,
    beat: Duration,
    cycles: Option<u32>,
    stop: CancellationToken,
) {
    let mut played = 0;
    loop {
        for (scene, beats) in SCRIPT {
            set(scene, &cast).await;
            sink.set_scene(scene.caption());
            println!("demo: {}", scene.caption());
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(beat * beats) => {}
            }
        }
        played += 1;
        if cycles.is_some_and(|limit| played >= limit) {
            set(Scene::Healthy, &cast).await;
            sink.set_scene("story finished; all healthy");
            return;
        }
    }
}

async fn set(scene: Scene, cast: &Cast<'_>) {
    match scene {
        Scene::Healthy => {
            cast.gateway.route_to(cast.origin.addr());
            cast.origin.recover(Duration::ZERO).await;
            cast.names.forget(false);
            cast.inventory.serve(true);
        }
        Scene::OriginCrash => cast.origin.crash().await,
        Scene::GatewayMisroute => cast.gateway.route_to(cast.nowhere),
        Scene::SlowOrigin => cast.origin.recover(SLOW_ORIGIN).await,
        Scene::OverloadedOrigin => cast.origin.overload(true),
        Scene::DnsFailure => cast.names.forget(true),
        Scene::InventoryNotServing => cast.inventory.serve(false),
    }
}
