//! The pure presence fold and delivery routing.
//!
//! No async runtime, no AWS SDK, no clock, no I/O: time comes only from events, so the same fold
//! runs in the Lambda, in `processor local`, in replay and in property tests, and gives the same
//! answer. The state is a join-semilattice ([`lattice`]): folding an event merges in what that
//! event implies, so any arrival order and any duplication of the same events derive the same
//! projections.
//!
//! - [`session`]: IoT sessions and the presence rule (current session by version, reset horizon).
//! - [`client`], [`connection`]: the entries of the world, one per DynamoDB item ([`key`]).
//! - [`world`]: the entries together and the fold over them.
//! - [`batch`]: the batch protocol, sans I/O: what a process loads and writes around the fold.
//! - [`route`]: who gets a message and how (socket, MQTT, push); [`delivery`]: what is sent.
//! - [`view`]: the client projection readers see; `compact`: bounding state without changing it.

pub mod batch;
pub mod client;
mod compact;
pub mod config;
pub mod connection;
pub mod delivery;
mod fold;
pub mod inline_str;
pub mod key;
pub mod lattice;
pub mod route;
pub mod session;
pub mod sessions;
pub mod vecmap;
pub mod view;
pub mod world;

pub use batch::{Batch, BatchError, CommitOutcome, Plan, Revision, Step, Unsettled, Write};
pub use client::{ClientState, ConnSummary};
pub use config::{Config, PatternError, TopicPattern};
pub use connection::{ConnectionState, DeviceState, LobbyState, RoomState};
pub use delivery::{Channel, Delivery};
pub use inline_str::InlineStr;
pub use key::{Entry, EntryRef, Key, KeyError};
pub use lattice::{Lww, Membership, Merge, Min};
pub use session::{PresenceDecision, SessionRecord};
pub use sessions::Sessions;
pub use vecmap::{MapKey, VecMap};
pub use view::ClientProjection;
pub use world::World;
