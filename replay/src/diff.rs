//! `replay diff`: replayed projections vs the live DynamoDB table, client by client.
//!
//! The source is folded as `rebuild` folds it; the live side is every projection item of the
//! table (`sk = state` items whose `pk` is a projection key, and room members; a Scan; `dedup#`
//! and `checkpoint#` items are ignored),
//! decoded with processor's item format and loaded into a world, whose client views are then
//! derived exactly as the processor derives them. Views are compared as JSON objects, field by
//! field. Exit code 0 when every client is equal, 1 otherwise ([`Error::Different`]).

use crate::aws;
use crate::cli::DiffArgs;
use crate::error::Error;
use crate::progress::Summary;
use crate::stream::each_record;
use aws_adapters::dynamo::classify;
use aws_adapters::item::{self, Item};
use aws_adapters::store_port::StoreError;
use projections::WorldFold;
use projections::{ClientProjection, Config, Key, World};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One differing field: its name, the replayed value and the live one (compact JSON).
pub type FieldDiff = (String, String, String);

/// How the two sides compare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Clients equal on both sides.
    pub equal: usize,
    /// Clients on both sides, different: id and the differing fields (field, replayed, live).
    pub different: Vec<(String, Vec<FieldDiff>)>,
    /// Clients only in the replay.
    pub missing_live: Vec<String>,
    /// Clients only in the live table.
    pub missing_replayed: Vec<String>,
}

impl Report {
    /// Clients that differ or are missing on one side.
    pub fn differing(&self) -> usize {
        self.different.len() + self.missing_live.len() + self.missing_replayed.len()
    }

    /// The report as text, with the first `show` differing clients in detail.
    pub fn render(&self, show: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "equal {}, different {}, missing live {}, missing in replay {}",
            self.equal,
            self.different.len(),
            self.missing_live.len(),
            self.missing_replayed.len()
        );
        for (id, fields) in self.different.iter().take(show) {
            let _ = writeln!(out, "different {id}:");
            for (field, replayed, live) in fields {
                let _ = writeln!(out, "  {field}: replayed {replayed}, live {live}");
            }
        }
        if self.different.len() > show {
            let _ = writeln!(out, "... {} more different", self.different.len() - show);
        }
        for (what, ids) in [
            ("missing live (only replayed)", &self.missing_live),
            ("missing in replay (only live)", &self.missing_replayed),
        ] {
            if !ids.is_empty() {
                let shown: Vec<&str> = ids.iter().take(show).map(String::as_str).collect();
                let more = ids.len().saturating_sub(show);
                let tail = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                let _ = writeln!(out, "{what}: {}{tail}", shown.join(", "));
            }
        }
        out
    }
}

/// Compares two sets of client views.
pub fn compare(replayed: &[ClientProjection], live: &[ClientProjection]) -> Report {
    let as_map = |clients: &[ClientProjection]| -> BTreeMap<String, Value> {
        clients
            .iter()
            .map(|c| {
                (
                    c.client_id.clone(),
                    serde_json::to_value(c).unwrap_or(Value::Null),
                )
            })
            .collect()
    };
    let (replayed, mut live) = (as_map(replayed), as_map(live));
    let mut report = Report::default();
    for (id, r) in replayed {
        match live.remove(&id) {
            None => report.missing_live.push(id),
            Some(l) if l == r => report.equal += 1,
            Some(l) => report.different.push((id, fields(&r, &l))),
        }
    }
    report.missing_replayed = live.into_keys().collect();
    report
}

/// The top-level fields that differ: (field, replayed, live), as compact JSON.
fn fields(replayed: &Value, live: &Value) -> Vec<FieldDiff> {
    let empty = serde_json::Map::new();
    let (r, l) = (
        replayed.as_object().unwrap_or(&empty),
        live.as_object().unwrap_or(&empty),
    );
    let mut names: Vec<&String> = r.keys().chain(l.keys()).collect();
    names.sort();
    names.dedup();
    let show = |v: Option<&Value>| v.map_or_else(|| "(absent)".to_owned(), Value::to_string);
    names
        .into_iter()
        .filter(|n| r.get(*n) != l.get(*n))
        .map(|n| (n.clone(), show(r.get(n)), show(l.get(n))))
        .collect()
}

/// Every projection entry of `table`, loaded into a world, and its client views.
///
/// # Errors
/// Scan failures; an item that does not decode.
pub async fn live_clients(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    config: Config,
) -> Result<Vec<ClientProjection>, StoreError> {
    // The table keeps no watermark: loading every client and connection finds the newest
    // event time, the now replay's views are taken at.
    let mut world = World::new(config).clock_from_entries();
    let mut pages = client
        .scan()
        .table_name(table)
        .consistent_read(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("Scan", e))?;
        for found in page.items.unwrap_or_default() {
            if let Some((key, entry)) = projection_entry(&found)? {
                world.load(key, Some(entry));
            }
        }
    }
    Ok(world.clients())
}

fn projection_entry(found: &Item) -> Result<Option<(Key, projections::Entry)>, StoreError> {
    let Some(pk) = item::get_s(found, "pk") else {
        return Ok(None);
    };
    let member = item::get_s(found, "sk").and_then(|sk| sk.strip_prefix(item::MEMBER));
    if let (Some(room), Some(client)) = (pk.strip_prefix("room#"), member) {
        let key = Key::Member {
            room: room.to_owned(),
            client: client.to_owned(),
        };
        let register = item::decode_member(pk, found)?;
        return Ok(Some((key, projections::Entry::Member(register))));
    }
    if item::get_s(found, "sk") != Some(item::SK) {
        return Ok(None);
    }
    // A room's history holds no client's state; its head item is the time of its newest
    // message, no entry.
    let Ok(key) = pk.parse::<Key>() else {
        return Ok(None);
    };
    if let Key::History { .. } = key {
        return Ok(None);
    }
    let (entry, _) = item::decode(pk, found)?;
    Ok(Some((key, entry)))
}

/// Runs `replay diff`.
///
/// # Errors
/// Source and DynamoDB failures; [`Error::Different`] when the two sides differ.
pub fn run(args: &DiffArgs) -> Result<Summary, Error> {
    let table = args
        .table
        .strip_prefix("dynamodb://")
        .unwrap_or(&args.table);
    if table.is_empty() {
        return Err(Error::Usage(
            "--table: expected NAME or dynamodb://NAME".into(),
        ));
    }
    let mut fold = WorldFold::new(World::in_memory(args.input.fold.config()));
    let pass = each_record(&args.input, |record, _| {
        drop(fold.apply(record));
        Ok(())
    })?;
    let replayed = fold.world.clients();
    let runtime = aws::runtime().map_err(|e| {
        Error::Sink(
            StoreError {
                retryable: false,
                op: "runtime",
                message: e.to_string(),
            }
            .into(),
        )
    })?;
    let endpoint = args.input.endpoint_url.as_deref();
    let live = runtime
        .block_on(async {
            let client = aws_sdk_dynamodb::Client::new(&aws::sdk_config(endpoint).await);
            live_clients(&client, table, args.input.fold.config()).await
        })
        .map_err(|e| Error::Sink(e.into()))?;
    let report = compare(&replayed, &live);
    print!("{}", report.render(args.show));
    let mut summary = pass.summary;
    let clients = report.equal + report.differing();
    summary.clients = Some(replayed.len());
    summary.online = replayed.iter().filter(|c| c.online).count();
    if report.differing() > 0 {
        return Err(Error::Different {
            different: report.differing(),
            clients,
        });
    }
    Ok(summary)
}
