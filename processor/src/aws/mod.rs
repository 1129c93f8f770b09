//! The AWS side of the processor: ports the batch handler is written against, their in-memory
//! adapters for tests, and the DynamoDB / Kinesis adapters.
//!
//! - [`store_port`]: the revisioned projection store; [`dynamo`] implements it over one table
//!   laid out as [`item`] says, counting what its calls cost as [`cost`] says; [`dedup`]: what
//!   it remembers of an event's deliveries.
//! - [`quarantine_port`], [`sink_port`], [`feedback`]: where poison records, deliveries and
//!   `connection_gone` records go.
//! - [`config`]: the typed environment configuration; [`clients`]: SDK clients with endpoint
//!   override and retries; [`provision`]: creating the stream and the table.

pub mod clients;
pub mod config;
pub mod cost;
pub mod dedup;
pub mod dynamo;
pub mod feedback;
pub mod item;
pub mod provision;
pub mod provision_delivery;
pub mod quarantine_port;
pub mod sink_port;
pub mod store_port;
