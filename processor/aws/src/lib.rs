//! The processor's ports, each with its in-memory adapter for tests and its adapter on AWS.
//!
//! - [`store_port`]: the revisioned projection store; [`dynamo`] implements it over one table
//!   laid out as [`item`] says, counting what its calls cost as [`cost`] says; [`dedup`]: what
//!   it remembers of an event's deliveries.
//! - [`sink_port`] and [`sinks`]: deliveries (API Gateway `PostToConnection`, IoT publish, SNS
//!   push), with one classification of what an adapter's error means ([`sinks::classify`]).
//! - [`quarantine_port`] and [`quarantine_aws`]: poison records, in S3; [`feedback`]:
//!   `connection_gone` and `tick` records put back on the Kinesis stream.
//! - [`sweep`]: the sweeper (ticks on every shard, `GetConnection` for idle connections), with
//!   its probe port ([`sweep::probe`]: API Gateway, or memory).
//! - [`source`]: the shards a stream is read from (Kinesis, or memory), and [`checkpoint`]: where
//!   a reader keeps each shard's position (the table, or memory).
//! - [`clients`]: SDK clients with an endpoint override and retries; [`provision`],
//!   [`provision_delivery`]: creating the stream, the table, the bucket and the topic.

pub mod checkpoint;
pub mod clients;
pub mod cost;
pub mod dedup;
pub mod dynamo;
pub mod feedback;
pub mod item;
pub mod provision;
pub mod provision_delivery;
pub mod quarantine_aws;
pub mod quarantine_port;
pub mod sink_port;
pub mod sinks;
pub mod source;
pub mod store_port;
pub mod sweep;
