//! `Wire`: every field of every record kind in one flat struct, what a JSON record is parsed into
//! before it is classified (`decode`). Both decoders fill it: serde's derived one, and `json_fast`
//! for flat lifecycle records.

use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A string field, borrowed from the input when it has no escapes.
pub(crate) type Str<'a> = Option<Cow<'a, str>>;

/// Every field of every record kind. Unknown fields are ignored (AWS adds fields over time).
/// Filled by serde, or for flat lifecycle records by `json_fast`, which must agree with it.
#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Wire<'a> {
    #[serde(borrow)]
    pub(crate) kind: Str<'a>,
    pub(crate) schema_version: Option<u32>,
    #[serde(borrow)]
    pub(crate) event_type: Str<'a>,
    pub(crate) timestamp: Option<u64>,
    // IoT lifecycle.
    #[serde(borrow)]
    pub(crate) client_id: Str<'a>,
    #[serde(borrow)]
    pub(crate) thing_name: Str<'a>,
    #[serde(borrow)]
    pub(crate) session_identifier: Str<'a>,
    #[serde(borrow)]
    pub(crate) principal_identifier: Str<'a>,
    #[serde(borrow)]
    pub(crate) ip_address: Str<'a>,
    pub(crate) version_number: Option<u64>,
    pub(crate) client_initiated_disconnect: Option<bool>,
    #[serde(borrow)]
    pub(crate) disconnect_reason: Str<'a>,
    #[serde(borrow)]
    pub(crate) topics: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    pub(crate) connect_failure_reason: Str<'a>,
    // Telemetry.
    #[serde(borrow)]
    pub(crate) device_id: Str<'a>,
    pub(crate) parameters: Option<serde_json::Map<String, serde_json::Value>>,
    // WebSocket and feedback.
    #[serde(borrow)]
    pub(crate) route_key: Str<'a>,
    #[serde(borrow)]
    pub(crate) connection_id: Str<'a>,
    pub(crate) connected_at: Option<u64>,
    pub(crate) request_time_epoch: Option<u64>,
    #[serde(borrow)]
    pub(crate) request_id: Str<'a>,
    #[serde(borrow)]
    pub(crate) message_id: Str<'a>,
    #[serde(borrow)]
    pub(crate) domain_name: Str<'a>,
    #[serde(borrow)]
    pub(crate) stage: Str<'a>,
    #[serde(borrow)]
    pub(crate) api_id: Str<'a>,
    #[serde(borrow)]
    pub(crate) source_ip: Str<'a>,
    #[serde(borrow)]
    pub(crate) user_agent: Str<'a>,
    pub(crate) authorizer: Option<BTreeMap<String, serde_json::Value>>,
    pub(crate) query_string_parameters: Option<BTreeMap<String, String>>,
    #[serde(borrow)]
    pub(crate) body: Str<'a>,
    pub(crate) disconnect_status_code: Option<i64>,
    #[serde(borrow)]
    pub(crate) delivery_id: Str<'a>,
    // Tick.
    #[serde(borrow)]
    pub(crate) shard_id: Str<'a>,
}

/// The JSON name of every [`Wire`] field: `json_fast` declines a record with a field of another
/// kind rather than repeat serde's rules for it. A test keeps the list in step with `Wire`.
pub(crate) const WIRE_FIELDS: &[&str] = &[
    "kind",
    "schemaVersion",
    "eventType",
    "timestamp",
    "clientId",
    "thingName",
    "sessionIdentifier",
    "principalIdentifier",
    "ipAddress",
    "versionNumber",
    "clientInitiatedDisconnect",
    "disconnectReason",
    "topics",
    "connectFailureReason",
    "deviceId",
    "parameters",
    "routeKey",
    "connectionId",
    "connectedAt",
    "requestTimeEpoch",
    "requestId",
    "messageId",
    "domainName",
    "stage",
    "apiId",
    "sourceIp",
    "userAgent",
    "authorizer",
    "queryStringParameters",
    "body",
    "disconnectStatusCode",
    "deliveryId",
    "shardId",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::{self, Visitor};

    /// A deserializer that records the field names a derived struct asks for, and stops.
    struct FieldNames<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for FieldNames<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only structs"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("names recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    #[test]
    fn wire_fields_lists_every_field_of_wire() {
        let mut names: &'static [&'static str] = &[];
        assert!(Wire::deserialize(FieldNames(&mut names)).is_err());
        let mut derived = names.to_vec();
        let mut listed = WIRE_FIELDS.to_vec();
        derived.sort_unstable();
        listed.sort_unstable();
        assert!(!derived.is_empty());
        assert_eq!(listed, derived);
    }
}
