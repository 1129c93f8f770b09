//! `processor dev`: the whole pipeline on one machine, driven by real WebSocket and MQTT
//! clients (docs/architecture.md, Where each process runs).
//!
//! On loopback: a WebSocket [`gateway`] that behaves like API Gateway, an MQTT [`broker`] that
//! writes AWS IoT lifecycle events and device telemetry, and an [`http`] port with a live page
//! (fed by [`live`]), the projections and the `@connections` API. All of them write raw records
//! into one channel; [`fold`] appends them to the local log, folds them with the same
//! [`Pipeline`] as `processor local` into the embedded store, and sends the deliveries: WebSocket
//! to the gateway's sockets (gone: a `connection_gone` record back into the stream), MQTT to the
//! broker, push as a JSON line on stdout (there is no push service locally).
//!
//! Ctrl-C closes every socket (writing their `$disconnect` and `disconnected` records), folds
//! what is queued and commits: nothing folded is lost, and a restart on the same store continues.

pub mod auth_flags;
pub mod banner;
pub mod broker;
pub mod fold;
pub mod gateway;
pub mod http;
pub mod live;
pub mod mqtt_codec;
pub mod mqtt_session;
mod unique;
pub mod url;

use anyhow::{Context, Result};
use clap::Args;
use embedded_store::deliveries::Discard;
use embedded_store::log::{Log, LogReader, DEFAULT_SEGMENT_BYTES};
use embedded_store::pipeline::Pipeline;
use embedded_store::redb_store::RedbStore;
use embedded_store::store::ProjectionStore;
use embedded_store::summary::Summary;
use embedded_store::{DB_FILE, LOG_DIR};
use fold_flags::{parse_duration_ms, FoldFlags};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

/// Run the whole pipeline locally: a WebSocket gateway, an MQTT broker and the processor.
///
/// Listens on 127.0.0.1. WebSocket clients connect to `ws://127.0.0.1:WS_PORT/?clientId=ID` (with
/// `--auth` or `--jwks`: `?token=JWT`, or the subprotocols `bearer` and the JWT) and send JSON with
/// an `action` (`sendmessage`, `set_notify_list`, `join`, `leave`, `history`, `presence`; anything
/// else is `$default`). MQTT 3.1.1 clients connect to MQTT_PORT (QoS 0 and 1, no retained
/// messages); devices publish telemetry to `devices/{deviceId}/params`. The HTTP port serves a live
/// page at `/` (who is online, rooms, watched devices, the latest deliveries, each client's
/// timeline), `GET /clients[/{clientId}]` and API Gateway's `@connections/{connectionId}` API.
///
/// Push deliveries are printed to stdout, one JSON line each: there is no push service
/// locally. The chosen ports are printed to stderr as `ws=... mqtt=... http=...` (port 0 picks a
/// free one). Ctrl-C stops cleanly; running again on the same store continues.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Examples:
  processor dev
  processor dev --ws-port 0 --mqtt-port 0 --http-port 0 --store /tmp/dev
  wscat -c 'ws://127.0.0.1:8080/?clientId=alice'
  PRESENCE_AUTH=hs256:$(openssl rand -hex 32) processor dev
  wscat -c 'ws://127.0.0.1:8080/?token=JWT'
  mosquitto_sub -p 1883 -i bob -t 'app/bob/chat/42'
  curl 127.0.0.1:8081/clients/alice
  open http://127.0.0.1:8081/ in a browser: the live page")]
pub struct DevArgs {
    /// The WebSocket gateway's port (0: any free port).
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 8080,
        env = "PRESENCE_WS_PORT"
    )]
    pub ws_port: u16,

    /// The MQTT broker's port (0: any free port).
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 1883,
        env = "PRESENCE_MQTT_PORT"
    )]
    pub mqtt_port: u16,

    /// The HTTP port: the live page, projections and `@connections` (0: any free port).
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 8081,
        env = "PRESENCE_HTTP_PORT"
    )]
    pub http_port: u16,

    /// Directory of the log and the database (as `processor local`); created if missing.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./data",
        env = "PRESENCE_STORE"
    )]
    pub store: PathBuf,

    /// How records are folded.
    #[command(flatten)]
    pub fold: FoldFlags,

    /// How WebSocket connections are admitted.
    #[command(flatten)]
    pub auth: auth_flags::AuthFlags,

    /// Say what happens, a line each: connections (and refusals, with why), records folded,
    /// deliveries made.
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// How long routed event ids are remembered, to skip duplicates' deliveries.
    #[arg(long, value_name = "DURATION", default_value = "24h",
          env = "PRESENCE_ROUTED_RETENTION", value_parser = parse_duration_ms)]
    pub routed_retention: u64,

    /// How long a WebSocket connection may stay open before the gateway closes it, as API
    /// Gateway does after 2 hours. For tests; the fold's own liveness bound stays 2 hours.
    #[arg(long, value_name = "DURATION", default_value = "2h", hide = true,
          value_parser = parse_duration_ms)]
    pub ws_max_age: u64,

    /// How often the sweeper runs (`0`: never), as on AWS: a `tick` moves the fold's time, and
    /// a connection the store holds open but the gateway no longer has (its `$disconnect` lost
    /// in a crash) is ended with a `connection_gone` record.
    #[arg(long, value_name = "DURATION", default_value = "1m", env = "PRESENCE_SWEEP_EVERY",
          value_parser = parse_duration_ms)]
    pub sweep_every: u64,
}

/// Milliseconds since the Unix epoch: the event time the local sources stamp their records with
/// (AWS stamps them with its clock; here we are the source).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

/// The real sinks: the gateway's sockets, the broker, stdout; and the page's feed.
struct Sinks {
    gateway: Arc<gateway::Gateway>,
    broker: Arc<broker::Broker>,
    feed: Arc<live::Feed>,
}

impl fold::Deliver for Sinks {
    fn websocket(&mut self, connection_id: &str, payload: &str) -> bool {
        self.gateway
            .send(connection_id, payload.as_bytes().to_vec())
    }
    fn mqtt(&mut self, topic: &str, payload: &str) {
        self.broker.publish(topic, payload.as_bytes(), 1);
    }
    fn push(&mut self, line: &str) {
        fold::print_push(line);
    }
    fn is_open(&mut self, connection_id: &str) -> bool {
        self.gateway.describe(connection_id).is_some()
    }
    fn tell(&mut self, event: live::Event) {
        self.feed.publish(event);
    }
}

/// Runs `processor dev` until Ctrl-C (or SIGTERM); returns the summary line.
///
/// # Errors
/// A port that cannot be bound, store or log failures.
pub fn run(args: &DevArgs) -> Result<String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: &DevArgs) -> Result<String> {
    let gate = Arc::new(args.auth.gate()?);
    eprintln!("{}", args.auth.describe());
    let dir = &args.store;
    embedded_store::dir::store_dir(dir)?;
    let store = RedbStore::open(&dir.join(DB_FILE))?;
    let committed = store.log_position()?;
    let log = Log::open(&dir.join(LOG_DIR), committed, DEFAULT_SEGMENT_BYTES)?.log;
    let mut pipeline = Pipeline::new(store, args.fold.config(), args.routed_retention);
    recover(&mut pipeline, &log, committed)?;

    let bind = |port: u16, what: &'static str| async move {
        TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("binding the {what} port {port}"))
    };
    let ws = bind(args.ws_port, "WebSocket").await?;
    let mqtt = bind(args.mqtt_port, "MQTT").await?;
    let http = bind(args.http_port, "HTTP").await?;
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).unwrap_or_default();
    let ports = banner::Ports {
        ws: port(&ws),
        mqtt: port(&mqtt),
        http: port(&http),
    };
    eprintln!("{}", banner::banner(ports, !gate.allows_anonymous()));

    let (stream, inputs) = mpsc::unbounded_channel();
    let gateway = Arc::new(gateway::Gateway::new(Duration::from_millis(
        args.ws_max_age,
    )));
    let broker = Arc::new(broker::Broker::new(stream.clone()));
    let feed = Arc::new(live::Feed::default());
    let sinks = Sinks {
        gateway: gateway.clone(),
        broker: broker.clone(),
        feed: feed.clone(),
    };
    let (folded_tx, mut folded_rx) = oneshot::channel();
    let fold_thread = std::thread::Builder::new()
        .name("fold".into())
        .spawn(move || {
            let outcome = fold::run(pipeline, log, inputs, sinks);
            let _ = folded_tx.send(());
            outcome
        })
        .context("starting the fold thread")?;

    let (shutdown_tx, shutdown) = watch::channel(false);
    let (done_tx, mut done) = mpsc::channel::<()>(1);
    tokio::spawn(gateway::server::serve(
        ws,
        gateway.clone(),
        gate,
        stream.clone(),
        shutdown.clone(),
        done_tx.clone(),
    ));
    tokio::spawn(mqtt_session::serve(
        mqtt,
        broker.clone(),
        shutdown.clone(),
        done_tx.clone(),
    ));
    let shared = http::Shared {
        gateway: gateway.clone(),
        stream: stream.clone(),
        feed,
        log_dir: dir.join(LOG_DIR),
        config: args.fold.config(),
        shutdown,
    };
    tokio::spawn(http::serve(http, shared));
    drop(done_tx);
    if args.sweep_every > 0 {
        tokio::spawn(sweep_every(
            stream.clone(),
            Duration::from_millis(args.sweep_every),
        ));
    }

    tokio::select! {
        () = stop_signal() => {}
        _ = &mut folded_rx => {}
    }
    // Stop accepting, close every socket (their tasks write the disconnects), wait for them,
    // then let the fold take what is queued and commit.
    let _ = shutdown_tx.send(true);
    gateway.close_all();
    broker.close_all();
    let _ = tokio::time::timeout(Duration::from_secs(5), done.recv()).await;
    let _ = stream.send(fold::Input::Shutdown);
    let folded = tokio::task::spawn_blocking(move || fold_thread.join())
        .await
        .context("waiting for the fold thread")?
        .map_err(|_| anyhow::anyhow!("the fold thread panicked"))??;
    Ok(format!(
        "dev: folded {} records in {} batches, {} deliveries, {} connections found gone, {} sweeps",
        folded.records, folded.batches, folded.delivered, folded.gone, folded.sweeps
    ))
}

/// Ctrl-C, or SIGTERM on Unix.
/// Asks the fold for a sweep every `every`, the first one `every` from now, until it stops.
async fn sweep_every(stream: fold::Stream, every: Duration) {
    let start = tokio::time::Instant::now() + every;
    let mut ticks = tokio::time::interval_at(start, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if stream.send(fold::Input::Sweep).is_err() {
            return;
        }
    }
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Folds what an earlier run logged but did not commit (a crash). Its deliveries are not sent
/// again: the sockets they were for belong to the earlier run.
fn recover(pipeline: &mut Pipeline<RedbStore>, log: &Log, committed: u64) -> Result<()> {
    if log.end() <= committed {
        return Ok(());
    }
    let mut summary = Summary::default();
    let mut batch = Vec::new();
    let mut position = committed;
    for item in LogReader::open(log.dir(), committed)? {
        let (record, after) = item?;
        batch.push(record);
        position = after;
        if batch.len() == fold::MAX_BATCH {
            pipeline.fold_batch(&batch, position, &mut Discard, &mut summary)?;
            batch.clear();
        }
    }
    pipeline.fold_batch(&batch, position, &mut Discard, &mut summary)?;
    pipeline.sync()?;
    eprintln!("log: folded records an earlier run had logged but not committed");
    Ok(())
}
