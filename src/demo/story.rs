//! The demo's script: healthy, origin crash, healthy, gateway misroute,
//! healthy, slow origin; then again. Each scene says what to look for.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

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
        }
    }
}

/// The order of scenes; fault scenes last twice as long as healthy ones.
pub const SCRIPT: [(Scene, u32); 6] = [
    (Scene::Healthy, 1),
    (Scene::OriginCrash, 2),
    (Scene::Healthy, 1),
    (Scene::GatewayMisroute, 2),
    (Scene::Healthy, 1),
    (Scene::SlowOrigin, 2),
];

/// Plays the script until `stop`; `cycles` limits it (None: forever).
pub async fn play(
    origin: &Origin,
    gateway: &Gateway,
    nowhere: SocketAddr,
    sink: &Sink,
    beat: Duration,
    cycles: Option<u32>,
    stop: CancellationToken,
) {
    let mut played = 0;
    loop {
        for (scene, beats) in SCRIPT {
            set(scene, origin, gateway, nowhere).await;
            sink.set_scene(scene.caption());
            println!("demo: {}", scene.caption());
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(beat * beats) => {}
            }
        }
        played += 1;
        if cycles.is_some_and(|limit| played >= limit) {
            set(Scene::Healthy, origin, gateway, nowhere).await;
            sink.set_scene("story finished; all healthy");
            return;
        }
    }
}

async fn set(scene: Scene, origin: &Origin, gateway: &Gateway, nowhere: SocketAddr) {
    match scene {
        Scene::Healthy => {
            gateway.route_to(origin.addr());
            origin.recover(Duration::ZERO).await;
        }
        Scene::OriginCrash => origin.crash().await,
        Scene::GatewayMisroute => gateway.route_to(nowhere),
        Scene::SlowOrigin => origin.recover(SLOW_ORIGIN).await,
    }
}
