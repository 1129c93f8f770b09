//! TEMPORARY stand-in for the `projections` crate API (being written on main), so the local run
//! compiles and its plumbing can be tested. Its fold is a toy. Delete when projections lands.
#![allow(missing_docs, dead_code)]

use schemas::{EventId, Lifecycle, Record};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct Config {
    pub reset_horizon_ms: u64,
    pub chat_topic: TopicPattern,
    pub connection_max_age_ms: u64,
    pub tombstone_retention_ms: u64,
}
impl Default for Config {
    fn default() -> Self {
        Config {
            reset_horizon_ms: 1_800_000,
            chat_topic: TopicPattern("+/+/chat/{chatId}".into()),
            connection_max_age_ms: 7_200_000,
            tombstone_retention_ms: 86_400_000,
        }
    }
}
#[derive(Debug, Clone)]
pub struct TopicPattern(String);
#[derive(Debug, Clone, thiserror::Error)]
#[error("chat topic pattern {0:?}: needs one {{chatId}} level")]
pub struct PatternError(String);
impl TopicPattern {
    pub fn parse(s: &str) -> Result<TopicPattern, PatternError> {
        if s.split('/').filter(|l| *l == "{chatId}").count() == 1 {
            Ok(TopicPattern(s.into()))
        } else {
            Err(PatternError(s.into()))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Client(String),
    Connection(String),
    Room(String),
    Device(String),
    Lobby,
    Watermark,
}
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Client(id) => write!(f, "client#{id}"),
            Key::Connection(id) => write!(f, "conn#{id}"),
            Key::Room(id) => write!(f, "room#{id}"),
            Key::Device(id) => write!(f, "device#{id}"),
            Key::Lobby => f.write_str("lobby"),
            Key::Watermark => f.write_str("watermark"),
        }
    }
}
#[derive(Debug, Clone, thiserror::Error)]
#[error("not a key: {0}")]
pub struct KeyError(String);
impl FromStr for Key {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        match s.split_once('#') {
            Some(("client", id)) => Ok(Key::Client(id.into())),
            Some(("conn", id)) => Ok(Key::Connection(id.into())),
            Some(("room", id)) => Ok(Key::Room(id.into())),
            Some(("device", id)) => Ok(Key::Device(id.into())),
            None if s == "lobby" => Ok(Key::Lobby),
            None if s == "watermark" => Ok(Key::Watermark),
            _ => Err(KeyError(s.into())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClientState {
    session: Option<String>,
    connected: bool,
    topics: BTreeSet<String>,
    ts: u64,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    Client(ClientState),
    Watermark(u64),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientProjection {
    pub client_id: String,
    pub connected: bool,
    pub online: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub topics: Vec<String>,
}
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub event_id: EventId,
    #[serde(flatten)]
    pub channel: Channel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub payload: serde_json::Value,
}
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "channel", rename_all = "camelCase")]
pub enum Channel {
    #[serde(rename = "websocket")]
    WebSocket { connection_id: String },
    #[serde(rename = "mqtt")]
    Mqtt { topic: String },
    #[serde(rename = "push")]
    Push { client_id: String },
}
impl Channel {
    pub fn name(&self) -> &'static str {
        match self {
            Channel::WebSocket { .. } => "websocket",
            Channel::Mqtt { .. } => "mqtt",
            Channel::Push { .. } => "push",
        }
    }
}

pub struct World {
    clients: BTreeMap<String, Option<ClientState>>,
    watermark: Option<u64>,
    dirty: BTreeSet<Key>,
}
impl World {
    pub fn new(_config: Config) -> World {
        World {
            clients: BTreeMap::new(),
            watermark: None,
            dirty: BTreeSet::new(),
        }
    }
    pub fn needs(&self, record: &Record) -> Vec<Key> {
        let mut v = Vec::new();
        if self.watermark.is_none() {
            v.push(Key::Watermark);
        }
        if let Record::Lifecycle(e) = record {
            if !self.clients.contains_key(e.client_id()) {
                v.push(Key::Client(e.client_id().into()));
            }
        }
        v
    }
    pub fn load(&mut self, key: Key, entry: Option<Entry>) {
        match (key, entry) {
            (Key::Client(id), Some(Entry::Client(c))) => {
                self.clients.insert(id, Some(c));
            }
            (Key::Client(id), _) => {
                self.clients.insert(id, None);
            }
            (Key::Watermark, Some(Entry::Watermark(w))) => self.watermark = Some(w),
            (Key::Watermark, _) => self.watermark = Some(0),
            _ => {}
        }
    }
    pub fn apply(&mut self, record: &Record) -> Vec<Delivery> {
        let t = record.event_time();
        if t > self.watermark.unwrap_or(0) {
            self.watermark = Some(t);
            self.dirty.insert(Key::Watermark);
        }
        let Record::Lifecycle(e) = record else {
            return Vec::new();
        };
        let id = e.client_id().to_owned();
        let c = self
            .clients
            .entry(id.clone())
            .or_insert(None)
            .get_or_insert_with(ClientState::default);
        if t < c.ts {
            return Vec::new();
        }
        c.ts = t;
        self.dirty.insert(Key::Client(id.clone()));
        let mut out = Vec::new();
        match e {
            Lifecycle::Connected(x) => {
                c.connected = true;
                c.session = Some(x.session_identifier.clone());
                c.topics.clear();
            }
            Lifecycle::Disconnected(_) => {
                c.connected = false;
                c.topics.clear();
            }
            Lifecycle::Subscribed(s) => {
                c.topics.extend(s.topics.iter().cloned());
                out.push(Delivery {
                    id: format!("{}-{id}", record.event_id()),
                    event_id: record.event_id(),
                    channel: Channel::Mqtt {
                        topic: s.topics.join(","),
                    },
                    client_id: Some(id),
                    payload: serde_json::json!({"type":"welcome"}),
                });
            }
            Lifecycle::Unsubscribed(s) => {
                for t in &s.topics {
                    c.topics.remove(t);
                }
            }
            Lifecycle::ConnectFailed(_) => {}
        }
        out
    }
    pub fn take_dirty(&mut self) -> Vec<(Key, Entry)> {
        let keys = std::mem::take(&mut self.dirty);
        keys.into_iter()
            .filter_map(|k| {
                let e = match &k {
                    Key::Client(id) => Entry::Client(self.clients.get(id)?.clone()?),
                    Key::Watermark => Entry::Watermark(self.watermark?),
                    _ => return None,
                };
                Some((k, e))
            })
            .collect()
    }
    pub fn clients(&self) -> Vec<ClientProjection> {
        self.clients
            .keys()
            .filter_map(|id| self.client(id))
            .collect()
    }
    pub fn client(&self, id: &str) -> Option<ClientProjection> {
        let c = self.clients.get(id)?.as_ref()?;
        Some(ClientProjection {
            client_id: id.into(),
            connected: c.connected,
            online: c.connected,
            session_id: c.session.clone().filter(|_| c.connected),
            topics: if c.connected {
                c.topics.iter().cloned().collect()
            } else {
                Vec::new()
            },
        })
    }
    pub fn watermark(&self) -> u64 {
        self.watermark.unwrap_or(0)
    }
}
