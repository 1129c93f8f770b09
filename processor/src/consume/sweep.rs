//! The sweeper beside `processor consume`'s polling loop: the same sweep the scheduled Lambda
//! runs ([`aws_adapters::sweep`]), every `--sweep-every`, at the wall clock. Without an
//! `@connections` endpoint (deliveries to stdout) it asks API Gateway nothing: it ticks every
//! shard and ends the connections past API Gateway's two hours.

use crate::lambda::handler::now_ms;
use aws_adapters::feedback::Feedback;
use aws_adapters::store_port::RevisionedStore;
use aws_adapters::sweep::probe::{ApiGatewayProbe, ConnectionProbe, Liveness, ProbeError};
use aws_adapters::sweep::Sweeper;
use std::convert::Infallible;
use std::time::Duration;

/// API Gateway's `@connections` API when deliveries go there, else nothing to ask.
#[derive(Debug, Clone)]
pub enum MaybeProbe {
    /// `GetConnection` at the configured endpoint.
    ApiGateway(ApiGatewayProbe),
    /// No endpoint: the sweeper is set to ask nothing (`max_probes` 0).
    Nobody,
}

impl ConnectionProbe for MaybeProbe {
    async fn probe(&self, connection_id: &str) -> Result<Liveness, ProbeError> {
        match self {
            MaybeProbe::ApiGateway(probe) => probe.probe(connection_id).await,
            MaybeProbe::Nobody => Err(ProbeError {
                connection_id: connection_id.to_owned(),
                message: "no @connections endpoint to ask (WEBSOCKET_API_ENDPOINT)".into(),
            }),
        }
    }
}

/// Sweeps every `every`, the first time one `every` from now, forever (it never returns); each
/// sweep's report, or why it failed, is logged (the next one tries again).
pub async fn sweep_forever<S, P, F>(sweeper: &Sweeper<S, P, F>, every: Duration) -> Infallible
where
    S: RevisionedStore,
    P: ConnectionProbe,
    F: Feedback,
{
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match sweeper.sweep(now_ms()).await {
            Ok(report) => report.log(),
            Err(e) => tracing::warn!(error = %e, "sweep failed; trying again next time"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_adapters::feedback::MemoryFeedback;
    use aws_adapters::store_port::MemoryRevisionedStore;
    use aws_adapters::sweep::SweepSettings;

    #[tokio::test]
    async fn it_sweeps_again_and_again() {
        let sweeper = Sweeper::new(
            MemoryRevisionedStore::new(),
            MaybeProbe::Nobody,
            MemoryFeedback::new(),
            SweepSettings {
                max_probes: 0,
                ..SweepSettings::default()
            },
        );
        let every = Duration::from_millis(5);
        let twice = async {
            while sweeper.feedback.ticks().len() < 2 {
                tokio::time::sleep(every).await;
            }
        };
        let swept = tokio::time::timeout(Duration::from_secs(30), async {
            tokio::select! {
                never = sweep_forever(&sweeper, every) => match never {},
                () = twice => {}
            }
        })
        .await;
        assert!(swept.is_ok(), "{:?}", sweeper.feedback.ticks());
    }
}
