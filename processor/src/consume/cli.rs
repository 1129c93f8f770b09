//! The flags of `processor consume` and `processor provision`, and running them.

use crate::consume::sweep::{sweep_forever, MaybeProbe};
use crate::consume::{consume, Options};
use crate::lambda::Handler;
use crate::settings::HandlerSettings;
use anyhow::Result;
use aws_adapters::checkpoint::DynamoCheckpoints;
use aws_adapters::clients;
use aws_adapters::dynamo::DynamoStore;
use aws_adapters::feedback::KinesisFeedback;
use aws_adapters::provision::{provision, Plan};
use aws_adapters::provision_delivery::provision_delivery;
use aws_adapters::sink_port::StdoutSink;
use aws_adapters::sinks::{AnyQuarantine, AnySink, SinksConfig};
use aws_adapters::source::KinesisSource;
use aws_adapters::sweep::probe::ApiGatewayProbe;
use aws_adapters::sweep::{SweepSettings, Sweeper};
use clap::Args;
use projections::TopicPattern;
use std::time::{Duration, Instant};

/// Poll a Kinesis stream and fold it into the DynamoDB table, as the Lambda does.
///
/// Reads every shard (parents before their children after a reshard), hands each page of
/// records to the same batch handler the Lambda runs, and checkpoints each shard in the table
/// (`checkpoint#{stream}#{shardId}`), so a restart continues where it stopped. Deliveries go to
/// stdout (one JSON object per line) or to AWS (`--deliver aws`); poison records go to
/// QUARANTINE_URL when set, else to the log. Beside it the sweeper runs, as the scheduled
/// Lambda does: a tick on every shard, and API Gateway asked about idle connections.
#[derive(Debug, Clone, Args)]
pub struct ConsumeArgs {
    /// The stream, the table and the endpoint.
    #[command(flatten)]
    pub target: Target,
    /// Exit once every shard is drained, instead of polling forever.
    #[arg(long)]
    pub until_idle: bool,
    /// Records per batch (one GetRecords page).
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(i32).range(1..=10_000))]
    pub batch_size: i32,
    /// IoT topics that are chat-room memberships.
    #[arg(long, value_name = "PATTERN", default_value = "+/+/chat/{chatId}", env = "CHAT_TOPIC",
          value_parser = |s: &str| TopicPattern::parse(s).map_err(|e| e.to_string()))]
    pub chat_topic: TopicPattern,
    /// The presence rule's reset horizon (e.g. `30m`).
    #[arg(long, value_name = "DURATION", default_value = "30m", env = "RESET_HORIZON",
          value_parser = fold_flags::parse_duration_ms)]
    pub reset_horizon: u64,
    /// How long a room's message history keeps a message after the room's newest (e.g. `10m`).
    #[arg(long, value_name = "DURATION", default_value = "10m", env = "HISTORY",
          value_parser = fold_flags::parse_duration_ms)]
    pub history: u64,
    /// How many messages a room's history keeps at most (0: none, no catch-up).
    #[arg(long, value_name = "N", default_value = "1000", env = "HISTORY_MAX",
          value_parser = fold_flags::parse_history_max)]
    pub history_max: usize,
    /// Presence rooms: those whose id starts with this (`''`: every room).
    #[arg(long, value_name = "PREFIX", default_value = projections::config::DEFAULT_PRESENCE_ROOMS,
          env = "PRESENCE_ROOMS")]
    pub presence_rooms: String,
    /// Grace against flapping (e.g. `10s`; `0s` for none): an `offline` is announced only if the
    /// member is still offline this long after it was last seen.
    #[arg(long, value_name = "DURATION", default_value = "0s", env = "PRESENCE_GRACE",
          value_parser = fold_flags::parse_presence_grace)]
    pub presence_grace: u64,
    /// Where deliveries go: `stdout` (one JSON line each, as `processor local` prints them) or
    /// `aws` (API Gateway, IoT and SNS, set up by WEBSOCKET_API_ENDPOINT, IOT_DATA_ENDPOINT and
    /// PUSH_TOPIC_ARN). Poison records go to QUARANTINE_URL (`s3://bucket/prefix`) when set,
    /// else to the log.
    #[arg(long, value_name = "SINK", default_value = "stdout", env = "DELIVER",
          value_parser = ["stdout", "aws"])]
    pub deliver: String,
    /// How often the sweeper runs (e.g. `1m`; `0` never): it puts a tick on every shard, ends
    /// connections past API Gateway's two hours, and with `--deliver aws` asks API Gateway
    /// (GetConnection) about connections idle for `--idle-after`, ending those it says are gone.
    /// Default: every minute, or never with `--until-idle`.
    #[arg(long, value_name = "DURATION", env = "SWEEP_EVERY",
          value_parser = fold_flags::parse_duration_ms)]
    pub sweep_every: Option<u64>,
    /// The sweeper asks about a connection with no activity for this long.
    #[arg(long, value_name = "DURATION", default_value = "10m", env = "IDLE_AFTER",
          value_parser = fold_flags::parse_duration_ms)]
    pub idle_after: u64,
}

/// Create what the processor needs, if it does not exist: the Kinesis stream, the DynamoDB table
/// (TTL on `ttl`), the quarantine bucket and the push topic; prints the settings to export.
#[derive(Debug, Clone, Args)]
pub struct ProvisionArgs {
    /// The stream, the table and the endpoint.
    #[command(flatten)]
    pub target: Target,
    /// Shards of a new stream.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(i32).range(1..=500))]
    pub shards: i32,
}

/// The stream and table a command works on, and where AWS is.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The Kinesis stream.
    #[arg(long, value_name = "NAME", env = "STREAM_NAME")]
    pub stream: String,
    /// The DynamoDB table.
    #[arg(long, value_name = "NAME", env = "TABLE_NAME")]
    pub table: String,
    /// Endpoint override for every AWS client (an emulator).
    #[arg(long, value_name = "URL", env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Runs `processor consume`.
///
/// # Errors
/// AWS failures, or a shard that keeps failing.
pub fn run_consume(args: &ConsumeArgs) -> Result<String> {
    runtime()?.block_on(async {
        let started = Instant::now();
        let sdk = clients::sdk_config(args.target.endpoint_url.as_deref()).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let kinesis = aws_sdk_kinesis::Client::new(&sdk);
        let mut settings = HandlerSettings::default();
        settings.fold.chat_topic = args.chat_topic.clone();
        settings.fold.reset_horizon_ms = args.reset_horizon;
        settings.fold.history_ms = args.history;
        settings.fold.history_max = args.history_max;
        settings
            .fold
            .presence_rooms
            .clone_from(&args.presence_rooms);
        settings.fold.presence_grace_ms = args.presence_grace;
        let sinks = SinksConfig::from_env()?;
        let sink = match args.deliver.as_str() {
            "aws" => AnySink::aws(&sdk, &sinks),
            _ => AnySink::Stdout(StdoutSink),
        };
        let feedback = KinesisFeedback::new(kinesis.clone(), &args.target.stream);
        let probe = match (&sinks.websocket_endpoint, args.deliver.as_str()) {
            (Some(endpoint), "aws") => MaybeProbe::ApiGateway(ApiGatewayProbe::new(&sdk, endpoint)),
            _ => MaybeProbe::Nobody,
        };
        let sweeper = Sweeper::new(
            DynamoStore::new(dynamo.clone(), &args.target.table).for_fold(&settings.fold),
            probe.clone(),
            feedback.clone(),
            SweepSettings {
                idle_after_ms: args.idle_after,
                max_probes: match probe {
                    MaybeProbe::ApiGateway(_) => SweepSettings::default().max_probes,
                    MaybeProbe::Nobody => 0,
                },
                ..SweepSettings::default()
            },
        );
        let handler = Handler {
            store: DynamoStore::new(dynamo.clone(), &args.target.table).for_fold(&settings.fold),
            quarantine: AnyQuarantine::from_config(&sdk, &sinks),
            sink,
            feedback,
            settings,
        };
        let source = KinesisSource::new(kinesis, &args.target.stream);
        let checkpoints = DynamoCheckpoints::new(dynamo, &args.target.table, &args.target.stream);
        let options = Options {
            until_idle: args.until_idle,
            limit: args.batch_size,
            ..Options::default()
        };
        let every = args
            .sweep_every
            .unwrap_or(if args.until_idle { 0 } else { 60_000 });
        let consuming = consume(&source, &checkpoints, &handler, &options);
        let s = if every == 0 {
            consuming.await?
        } else {
            tracing::info!(
                every_ms = every,
                idle_after_ms = args.idle_after,
                "sweeping"
            );
            tokio::select! {
                s = consuming => s?,
                never = sweep_forever(&sweeper, Duration::from_millis(every)) => match never {},
            }
        };
        let per_record = |n: u64| n as f64 / s.records.max(1) as f64;
        Ok(format!(
            "consumed {} records in {} batches ({} failed) from {} shards; {} deliveries ({} to \
             clients that had left: late leaves); {} revision conflicts; DynamoDB: {} requests, \
             {} read units, {} write units, {:.1} KB written ({:.3} requests, {:.3} read units, \
             {:.3} write units, {:.0} bytes written per record; AWS reported {:.1} units); {:.1}s",
            s.records,
            s.batches,
            s.failed_batches,
            s.shard_order.len(),
            s.delivered,
            s.late_leaves,
            s.conflicts,
            s.cost.requests,
            s.cost.read_units,
            s.cost.write_units,
            s.cost.bytes_written as f64 / 1024.0,
            per_record(s.cost.requests),
            per_record(s.cost.read_units),
            per_record(s.cost.write_units),
            per_record(s.cost.bytes_written),
            s.cost.reported_units(),
            started.elapsed().as_secs_f64()
        ))
    })
}

/// Runs `processor provision`.
///
/// # Errors
/// AWS failures.
pub fn run_provision(args: &ProvisionArgs) -> Result<String> {
    runtime()?.block_on(async {
        let sdk = clients::sdk_config(args.target.endpoint_url.as_deref()).await;
        let plan = Plan {
            stream: args.target.stream.clone(),
            shards: args.shards,
            table: args.target.table.clone(),
        };
        let mut done = provision(
            &aws_sdk_kinesis::Client::new(&sdk),
            &aws_sdk_dynamodb::Client::new(&sdk),
            &plan,
        )
        .await?;
        let delivery = provision_delivery(
            &aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&sdk)
                    .force_path_style(true)
                    .build(),
            ),
            &aws_sdk_sns::Client::new(&sdk),
            &args.target.table,
        )
        .await?;
        done.extend(delivery.done);
        done.push(format!("export QUARANTINE_URL={}", delivery.quarantine_url));
        done.push(format!("export PUSH_TOPIC_ARN={}", delivery.push_topic_arn));
        Ok(done.join("\n"))
    })
}
