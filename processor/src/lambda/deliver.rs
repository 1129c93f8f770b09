//! Step 5 of the batch handler: sending the batch's deliveries, with bounded concurrency and in
//! order per target, skipping those an earlier attempt or record already sent (dedup marks per
//! event id, [`aws_adapters::dedup`]), feeding `connection_gone` back to the stream on a 410
//! Gone, and keeping a delivery that can never be sent in the quarantine rather than blocking
//! the shard.
//!
//! A batch's now lags the stream's (docs/architecture.md, The fold), so the fold may choose a
//! socket that API Gateway has already closed. A room's chat message to it would be lost: when no
//! other socket of the member gets the message, it is pushed to the member instead, as the fold
//! would have decided had it known.

use super::handler::{now_ms, BatchReport, ChannelCounts, Handler};
use aws_adapters::feedback::Feedback;
use aws_adapters::quarantine_port::{PoisonRecord, Quarantine, QuarantineError};
use aws_adapters::sink_port::{DeliveryOutcome, DeliverySink};
use aws_adapters::source::InRecord;
use aws_adapters::store_port::{DedupMark, RevisionedStore};
use projections::{Channel, Delivery};
use schemas::{ConnectionGone, EventId};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A delivery waiting to be sent, with the record that caused it.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    /// The input index of the record that caused it.
    pub(super) at: usize,
    /// That record's event time.
    pub(super) time: u64,
    /// The delivery.
    pub(super) delivery: Delivery,
}

impl<S, Q, D, F> Handler<S, Q, D, F>
where
    S: RevisionedStore,
    Q: Quarantine,
    D: DeliverySink,
    F: Feedback,
{
    /// Sends `decided`, the deliveries of the batch's first fold.
    pub(super) async fn deliver(
        &self,
        input: &[InRecord],
        decided: Vec<Pending>,
        report: &mut BatchReport,
    ) {
        if decided.is_empty() {
            return;
        }
        let mut events: Vec<EventId> = decided.iter().map(|p| p.delivery.event_id).collect();
        events.sort_unstable();
        events.dedup();
        let already = match self.store.delivered(&events).await {
            Ok(a) => a,
            Err(e) => {
                self.fail(report, input, decided[0].at, e.to_string());
                return;
            }
        };
        // Each event's deliveries as decided now, each once, and those an earlier attempt did.
        let mut ids: BTreeMap<EventId, Vec<&str>> = BTreeMap::new();
        let mut listed: HashSet<&str> = HashSet::new();
        for p in &decided {
            if listed.insert(p.delivery.id.as_str()) {
                ids.entry(p.delivery.event_id)
                    .or_default()
                    .push(p.delivery.id.as_str());
            }
        }
        let done_before: HashMap<EventId, HashSet<&str>> = ids
            .iter()
            .filter_map(|(event, ids)| Some((*event, already.get(event)?.already_done(ids))))
            .collect();
        // Per target, in order; a delivery id seen earlier (a duplicate record) is skipped.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut groups: BTreeMap<&Channel, Vec<&Pending>> = BTreeMap::new();
        for p in &decided {
            let id = p.delivery.id.as_str();
            let sent = done_before
                .get(&p.delivery.event_id)
                .is_some_and(|s| s.contains(id));
            if sent || !seen.insert(id) {
                report.duplicates += 1;
                continue;
            }
            groups.entry(&p.delivery.channel).or_default().push(p);
        }
        // Members a message reaches by more than one socket: one gone socket loses them nothing.
        let mut sockets: HashMap<(EventId, &str), usize> = HashMap::new();
        for p in &decided {
            if let (Channel::WebSocket { .. }, Some(client)) =
                (&p.delivery.channel, &p.delivery.client_id)
            {
                *sockets
                    .entry((p.delivery.event_id, client.as_str()))
                    .or_default() += 1;
            }
        }
        let permits = tokio::sync::Semaphore::new(self.settings.delivery_concurrency.max(1));
        let mut runs = Vec::with_capacity(groups.len());
        for group in groups.into_values() {
            runs.push(self.deliver_group(&permits, input, group, &sockets));
        }
        let mut done: BTreeMap<EventId, HashSet<&str>> = BTreeMap::new();
        let mut event_at: HashMap<EventId, usize> = HashMap::new();
        for outcome in futures_util::future::join_all(runs).await {
            report.delivered += outcome.sent;
            report.gone += outcome.gone;
            report.pushed_instead += outcome.pushed_instead;
            report.by_channel = report.by_channel.plus(outcome.by_channel);
            for p in outcome.done {
                event_at.entry(p.delivery.event_id).or_insert(p.at);
                done.entry(p.delivery.event_id)
                    .or_default()
                    .insert(p.delivery.id.as_str());
            }
            if let Some((at, why)) = outcome.failed {
                self.fail(report, input, at, why);
            }
        }
        let expires_at_s = (now_ms() + self.settings.dedup_ttl_ms) / 1000;
        let marks: Vec<DedupMark> = done
            .into_iter()
            .map(|(event_id, mut done)| {
                done.extend(done_before.get(&event_id).into_iter().flatten());
                let mut sent = already.get(&event_id).cloned().unwrap_or_default();
                let event_ids = ids.get(&event_id).map_or(&[][..], Vec::as_slice);
                sent.record(event_ids, &done);
                DedupMark {
                    event_id,
                    sent,
                    expires_at_s,
                }
            })
            .collect();
        if let Err(e) = self.store.mark_delivered(&marks).await {
            // Sent but not remembered: retrying from here may send these again (at least once).
            let at = marks
                .iter()
                .filter_map(|m| event_at.get(&m.event_id))
                .min()
                .copied()
                .unwrap_or(decided[0].at);
            self.fail(report, input, at, e.to_string());
        }
    }

    async fn deliver_group<'a>(
        &self,
        permits: &tokio::sync::Semaphore,
        input: &[InRecord],
        group: Vec<&'a Pending>,
        sockets: &HashMap<(EventId, &str), usize>,
    ) -> GroupOutcome<'a> {
        let mut out = GroupOutcome::default();
        let Ok(_permit) = permits.acquire().await else {
            out.failed = group
                .first()
                .map(|p| (p.at, "delivery semaphore closed".to_owned()));
            return out;
        };
        let mut gone = false;
        for p in group {
            let d = &p.delivery;
            let r = &input[p.at];
            if gone {
                // The same connection, already found gone in this batch.
                if let Err(failed) = self.push_instead(r, d, sockets, &mut out).await {
                    out.failed = Some((p.at, failed));
                    return out;
                }
                out.done.push(p);
                continue;
            }
            match self.sink.deliver(d).await {
                Ok(DeliveryOutcome::Sent) => {
                    out.sent += 1;
                    out.by_channel.add(&d.channel);
                    out.done.push(p);
                }
                Ok(DeliveryOutcome::TooLarge) => {
                    // Retrying cannot make it fit: keep it in the quarantine, never drop it.
                    let error = format!("{} delivery too large for its channel", d.channel.name());
                    if let Err(qe) = self.quarantine_delivery(r, d, error).await {
                        out.failed = Some((p.at, qe.to_string()));
                        return out;
                    }
                    out.done.push(p);
                }
                Ok(DeliveryOutcome::Gone) => {
                    let Channel::WebSocket { connection_id } = &d.channel else {
                        out.done.push(p);
                        continue;
                    };
                    tracing::info!(shard = %r.shard, seq = %r.seq, connection_id = %connection_id, "connection gone");
                    // The event's own time, not the wall clock: the fold's time comes only from
                    // events, and this keeps a replayed stream's answers the same.
                    let record =
                        ConnectionGone::new(connection_id.as_str(), p.time, Some(d.id.clone()));
                    if let Err(e) = self.feedback.connection_gone(record).await {
                        out.failed = Some((p.at, e.to_string()));
                        return out;
                    }
                    out.gone += 1;
                    gone = true;
                    if let Err(failed) = self.push_instead(r, d, sockets, &mut out).await {
                        out.failed = Some((p.at, failed));
                        return out;
                    }
                    out.done.push(p);
                }
                Err(e) if e.retryable => {
                    out.failed = Some((p.at, e.to_string()));
                    return out;
                }
                Err(e) => {
                    // Never deliverable: keep it in the quarantine rather than block the shard.
                    if let Err(qe) = self.quarantine_delivery(r, d, e.to_string()).await {
                        out.failed = Some((p.at, qe.to_string()));
                        return out;
                    }
                    out.done.push(p);
                }
            }
        }
        out
    }

    /// A room's chat message whose socket was gone, pushed to its member when no other socket of
    /// the member gets it. Presence events, replies and broadcasts go by socket only. A member
    /// the message also reaches by an MQTT topic is pushed too (a topic's publish names no
    /// client): at least once, with the message's id to drop the second copy.
    ///
    /// # Errors
    /// Why the push could not be sent or kept, when retrying may help.
    async fn push_instead(
        &self,
        r: &InRecord,
        d: &Delivery,
        sockets: &HashMap<(EventId, &str), usize>,
        out: &mut GroupOutcome<'_>,
    ) -> Result<(), String> {
        let Some(client) = d.client_id.as_deref() else {
            return Ok(());
        };
        let chat = d.payload["type"] == "message" && d.payload.get("chatId").is_some();
        if !chat || sockets.get(&(d.event_id, client)).is_some_and(|n| *n > 1) {
            return Ok(());
        }
        let push = Delivery::new(
            d.event_id,
            Channel::Push {
                client_id: client.to_owned(),
            },
            None,
            d.payload.clone(),
        );
        match self.sink.deliver(&push).await {
            Ok(DeliveryOutcome::Sent | DeliveryOutcome::Gone) => {
                out.pushed_instead += 1;
                out.by_channel.push += 1;
                Ok(())
            }
            Err(e) if e.retryable => Err(e.to_string()),
            Ok(DeliveryOutcome::TooLarge) => self
                .quarantine_delivery(r, &push, "push delivery too large".into())
                .await
                .map_err(|e| e.to_string()),
            Err(e) => self
                .quarantine_delivery(r, &push, e.to_string())
                .await
                .map_err(|e| e.to_string()),
        }
    }

    /// Keeps a delivery that can never be sent (too large, or refused for good) in the
    /// quarantine, under its own id, with the record that caused it.
    async fn quarantine_delivery(
        &self,
        r: &InRecord,
        d: &Delivery,
        error: String,
    ) -> Result<(), QuarantineError> {
        tracing::warn!(shard = %r.shard, seq = %r.seq, delivery = %d.id, channel = d.channel.name(), error = %error, "undeliverable: quarantined");
        let item = PoisonRecord {
            // A delivery is plain data: serializing it cannot fail.
            raw: serde_json::to_vec(d).unwrap_or_default(),
            error,
            shard: r.shard.clone(),
            sequence_number: r.seq.clone(),
            at_ms: now_ms(),
            delivery_id: Some(d.id.clone()),
        };
        self.quarantine.put(item).await
    }
}

#[derive(Debug, Default)]
struct GroupOutcome<'a> {
    sent: usize,
    by_channel: ChannelCounts,
    gone: usize,
    pushed_instead: usize,
    done: Vec<&'a Pending>,
    failed: Option<(usize, String)>,
}
