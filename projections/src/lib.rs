//! The pure presence fold and delivery routing.
//!
//! No async runtime, no AWS SDK, no clock, no I/O: time comes only from events, so the same fold
//! runs in the Lambda, in `processor local`, in replay and in property tests, and gives the same
//! answer. The state is a join-semilattice ([`lattice`]): folding an event merges in what that
//! event implies, so any arrival order and any duplication of the same events derive the same
//! projections.
//!
//! - [`session`], [`sessions`]: a client's IoT sessions; [`presence`]: the presence rule over them
//!   (current session by version, reset horizon).
//! - [`client`], [`connection`]: the entries of the world ([`key`]); `parts`: what is written of
//!   a room, a device or the lobby one member, watcher or connection at a time.
//! - [`world`]: the entries together; `fold`: folding records into them; `id`: ids as maps hold
//!   them.
//! - [`batch`]: the batch protocol, sans I/O: what a process loads and writes around the fold.
//! - [`authorize`]: what a record's claims allow; [`limits`]: rates and bounds; [`route`]: who gets
//!   a message and how (socket, MQTT, push); [`delivery`]: what is sent; [`history`]: rooms' recent
//!   messages, which memberships folded late catch up on.
//! - [`view`]: the client projection readers see; `compact`: bounding state without changing it;
//!   [`world_fold`]: a whole world folded record by record (replay, explain), compacted now and
//!   then.

mod ahead;
mod announce;
pub mod authorize;
pub mod batch;
pub mod client;
mod compact;
pub mod config;
pub mod connection;
pub mod delivery;
mod dirty;
mod fold;
pub mod grace;
pub mod history;
mod id;
mod inline_str;
pub mod key;
pub mod lattice;
pub mod limits;
mod membership;
mod merge;
mod needs;
mod parts;
pub mod presence;
mod presence_events;
mod presence_recheck;
mod presence_reply;
mod room_presence;
pub mod route;
pub mod session;
pub mod sessions;
mod vecmap;
pub mod view;
pub mod world;
pub mod world_fold;

pub use batch::{Batch, BatchError, CommitOutcome, Plan, Revision, Step, Unsettled, Write};
pub use client::{ClientState, ConnSummary};
pub use config::{Config, PatternError, TopicPattern};
pub use connection::{ConnectionState, DeviceState, LobbyState, RoomState};
pub use delivery::{Channel, Delivery};
pub use history::{History, Message};
pub use key::{Entry, EntryRef, Key, KeyError};
pub use lattice::{Lww, Membership, Merge, Min};
pub use presence::PresenceDecision;
pub use session::SessionRecord;
pub use sessions::Sessions;
pub use view::ClientProjection;
pub use world::World;
pub use world_fold::WorldFold;
