//! MQTT 3.1.1 packets for the local broker: the framing is rumqttc's maintained codec
//! (`mqttbytes::v4`, the one its client speaks), read into the few packet shapes a QoS 0/1
//! broker without retained messages handles. The broker ([`super::broker`]) does the I/O.
//!
//! CONNECT, PUBLISH, PUBACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT arrive; CONNACK,
//! PUBLISH, PUBACK, SUBACK, UNSUBACK and PINGRESP leave. Anything else (QoS 2 flows, a packet only
//! a server sends) is a protocol error, and the broker closes the connection, as the spec says a
//! server must. Topic matching is ours: rumqttc's never matches a `$` topic, and AWS's lifecycle
//! topics (`$aws/events/...`) must match filters that name them.

use bytes::BytesMut;
use rumqttc::mqttbytes::{self, v4, QoS};

/// The largest packet accepted (AWS IoT Core's limit is 128 KB of payload).
pub const MAX_PACKET: usize = 256 * 1024;

/// One MQTT control packet, as the broker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT: the fields the broker uses.
    Connect {
        /// The client identifier (may be empty with a clean session).
        client_id: String,
        /// Keep-alive, seconds (0: none).
        keep_alive: u16,
        /// Clean session flag.
        clean_session: bool,
    },
    /// CONNACK with its return code (0 accepted, 1 unacceptable protocol, 2 identifier rejected).
    ConnAck {
        /// Return code.
        code: u8,
    },
    /// PUBLISH.
    Publish {
        /// QoS 0 or 1.
        qos: u8,
        /// Retain flag (stored nowhere: no retained messages).
        retain: bool,
        /// The topic.
        topic: String,
        /// The packet id (QoS 1 only).
        pkid: u16,
        /// The payload.
        payload: Vec<u8>,
    },
    /// PUBACK.
    PubAck(u16),
    /// SUBSCRIBE: filters and requested QoS.
    Subscribe {
        /// The packet id.
        pkid: u16,
        /// (filter, requested QoS).
        filters: Vec<(String, u8)>,
    },
    /// SUBACK: a granted QoS (or 0x80) per filter.
    SubAck {
        /// The packet id.
        pkid: u16,
        /// Return codes.
        codes: Vec<u8>,
    },
    /// UNSUBSCRIBE.
    Unsubscribe {
        /// The packet id.
        pkid: u16,
        /// The filters.
        filters: Vec<String>,
    },
    /// UNSUBACK.
    UnsubAck(u16),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect,
}

/// A packet the broker cannot take: the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A CONNECT for another protocol or level than MQTT 3.1.1: answered with CONNACK 0x01.
    #[error("mqtt: unacceptable protocol version (this broker speaks MQTT 3.1.1): {0}")]
    UnsupportedProtocol(String),
    /// A malformed, oversized or unsupported packet.
    #[error("mqtt protocol error: {0}")]
    Malformed(String),
}

/// Takes one packet off the front of `buf`: `Ok(None)` (nothing taken) when more bytes are needed.
///
/// # Errors
/// A malformed, oversized or unsupported packet.
pub fn parse(buf: &mut BytesMut) -> Result<Option<Packet>, ProtocolError> {
    let malformed = |what: &str| Err(ProtocolError::Malformed(what.to_owned()));
    let packet = match v4::read(buf, MAX_PACKET) {
        Ok(packet) => packet,
        Err(mqttbytes::Error::InsufficientBytes(_)) => return Ok(None),
        Err(
            e @ (mqttbytes::Error::InvalidProtocol | mqttbytes::Error::InvalidProtocolLevel(_)),
        ) => return Err(ProtocolError::UnsupportedProtocol(e.to_string())),
        Err(e) => return Err(ProtocolError::Malformed(e.to_string())),
    };
    Ok(Some(match packet {
        v4::Packet::Connect(c) => {
            if c.protocol != mqttbytes::Protocol::V4 {
                return Err(ProtocolError::UnsupportedProtocol(format!(
                    "{:?}",
                    c.protocol
                )));
            }
            Packet::Connect {
                client_id: c.client_id,
                keep_alive: c.keep_alive,
                clean_session: c.clean_session,
            }
        }
        v4::Packet::Publish(p) => Packet::Publish {
            qos: match qos_level(p.qos) {
                2 => return malformed("QoS 2 is not supported"),
                level => level,
            },
            retain: p.retain,
            topic: p.topic,
            pkid: p.pkid,
            payload: p.payload.to_vec(),
        },
        v4::Packet::PubAck(a) => Packet::PubAck(a.pkid),
        v4::Packet::Subscribe(s) => Packet::Subscribe {
            pkid: s.pkid,
            filters: s
                .filters
                .into_iter()
                .map(|f| (f.path, qos_level(f.qos)))
                .collect(),
        },
        v4::Packet::Unsubscribe(u) => Packet::Unsubscribe {
            pkid: u.pkid,
            filters: u.topics,
        },
        v4::Packet::PingReq => Packet::PingReq,
        v4::Packet::Disconnect => Packet::Disconnect,
        v4::Packet::PubRec(_) | v4::Packet::PubRel(_) | v4::Packet::PubComp(_) => {
            return malformed("QoS 2 is not supported")
        }
        v4::Packet::ConnAck(_)
        | v4::Packet::SubAck(_)
        | v4::Packet::UnsubAck(_)
        | v4::Packet::PingResp => return malformed("a packet only a server sends"),
    }))
}

fn qos_level(qos: QoS) -> u8 {
    match qos {
        QoS::AtMostOnce => 0,
        QoS::AtLeastOnce => 1,
        QoS::ExactlyOnce => 2,
    }
}

fn qos(level: u8) -> QoS {
    match level {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// Appends `packet`'s bytes to `out`.
///
/// # Errors
/// The packet cannot be framed (a topic or client id over 65,535 bytes, a payload over the
/// protocol's 256 MB): nothing is appended.
pub fn encode(packet: &Packet, out: &mut BytesMut) -> Result<(), ProtocolError> {
    let written = match packet {
        Packet::Connect {
            client_id,
            keep_alive,
            clean_session,
        } => {
            let mut c = v4::Connect::new(client_id.as_str());
            c.keep_alive = *keep_alive;
            c.clean_session = *clean_session;
            c.write(out)
        }
        Packet::ConnAck { code } => {
            use v4::ConnectReturnCode as C;
            let code = match code {
                0 => C::Success,
                1 => C::RefusedProtocolVersion,
                2 => C::BadClientId,
                3 => C::ServiceUnavailable,
                4 => C::BadUserNamePassword,
                _ => C::NotAuthorized,
            };
            v4::ConnAck::new(code, false).write(out)
        }
        Packet::Publish {
            qos: level,
            retain,
            topic,
            pkid,
            payload,
        } => {
            let mut p = v4::Publish::new(topic.as_str(), qos(*level), payload.as_slice());
            p.retain = *retain;
            p.pkid = *pkid;
            p.write(out)
        }
        Packet::PubAck(pkid) => v4::PubAck::new(*pkid).write(out),
        Packet::Subscribe { pkid, filters } => {
            let mut s = v4::Subscribe::new_many(
                filters
                    .iter()
                    .map(|(f, level)| v4::SubscribeFilter::new(f.clone(), qos(*level))),
            );
            s.pkid = *pkid;
            s.write(out)
        }
        Packet::SubAck { pkid, codes } => {
            let codes = codes
                .iter()
                .map(|c| match c {
                    0..=2 => v4::SubscribeReasonCode::Success(qos(*c)),
                    _ => v4::SubscribeReasonCode::Failure,
                })
                .collect();
            v4::SubAck::new(*pkid, codes).write(out)
        }
        Packet::Unsubscribe { pkid, filters } => v4::Unsubscribe {
            pkid: *pkid,
            topics: filters.clone(),
        }
        .write(out),
        Packet::UnsubAck(pkid) => v4::UnsubAck::new(*pkid).write(out),
        Packet::PingReq => v4::PingReq.write(out),
        Packet::PingResp => v4::PingResp.write(out),
        Packet::Disconnect => v4::Disconnect.write(out),
    };
    written
        .map(|_| ())
        .map_err(|e| ProtocolError::Malformed(e.to_string()))
}

/// Whether a topic filter (with `+` and `#` wildcards) matches a topic name. Filters starting
/// with a wildcard do not match topics starting with `$` (MQTT 3.1.1, 4.7.2).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether a topic filter is well formed: `#` only last and alone in its level, `+` alone.
pub fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(i, level)| {
        (*level == "#" && i == levels.len() - 1)
            || *level == "+"
            || !(level.contains('#') || level.contains('+'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_what_the_broker_reads() {
        for packet in [
            Packet::Connect {
                client_id: "bob".into(),
                keep_alive: 30,
                clean_session: true,
            },
            Packet::Publish {
                qos: 1,
                retain: false,
                topic: "a/b".into(),
                pkid: 7,
                payload: vec![1; 300],
            },
            Packet::Publish {
                qos: 0,
                retain: true,
                topic: "a".into(),
                pkid: 0,
                payload: b"x".to_vec(),
            },
            Packet::PubAck(9),
            Packet::Subscribe {
                pkid: 3,
                filters: vec![("a/+".into(), 1), ("#".into(), 0)],
            },
            Packet::Unsubscribe {
                pkid: 4,
                filters: vec!["a/+".into()],
            },
            Packet::PingReq,
            Packet::Disconnect,
        ] {
            let mut bytes = BytesMut::new();
            encode(&packet, &mut bytes).unwrap();
            let mut short = BytesMut::from(&bytes[..bytes.len() - 1]);
            assert_eq!(parse(&mut short).unwrap(), None);
            assert_eq!(short.len(), bytes.len() - 1, "nothing taken");
            bytes.extend_from_slice(&[0xc0, 0x00]); // a PINGREQ behind it
            assert_eq!(parse(&mut bytes).unwrap(), Some(packet));
            assert_eq!(parse(&mut bytes).unwrap(), Some(Packet::PingReq));
            assert!(bytes.is_empty());
        }
    }

    #[test]
    fn what_a_client_receives_is_framed_as_the_spec_says() {
        let mut out = BytesMut::new();
        encode(&Packet::ConnAck { code: 0 }, &mut out).unwrap();
        assert_eq!(&out[..], [0x20, 2, 0, 0]);
        out.clear();
        encode(
            &Packet::SubAck {
                pkid: 5,
                codes: vec![1, 0x80],
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(&out[..], [0x90, 4, 0, 5, 1, 0x80]);
        out.clear();
        encode(&Packet::UnsubAck(6), &mut out).unwrap();
        assert_eq!(&out[..], [0xb0, 2, 0, 6]);
    }

    #[test]
    fn refuses_qos2_server_packets_and_other_protocols() {
        let mut qos2 = BytesMut::from(&[0x34, 0x05, 0x00, 0x01, b'a', 0x00, 0x01][..]);
        assert!(matches!(parse(&mut qos2), Err(ProtocolError::Malformed(_))));
        let mut connack = BytesMut::from(&[0x20, 0x02, 0x00, 0x00][..]);
        assert!(matches!(
            parse(&mut connack),
            Err(ProtocolError::Malformed(_))
        ));
        // CONNECT, protocol name "MQTT", level 3: not 3.1.1.
        let mut old = BytesMut::from(
            &[
                0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x03, 0x02, 0x00, 0x1e, 0x00, 0x01,
                b'x',
            ][..],
        );
        assert!(matches!(
            parse(&mut old),
            Err(ProtocolError::UnsupportedProtocol(_))
        ));
        let mut big = BytesMut::from(&[0x30, 0xff, 0xff, 0xff, 0x7f][..]);
        assert!(parse(&mut big).is_err());
    }

    #[test]
    fn wildcards() {
        assert!(matches("app/+/chat/#", "app/bob/chat/42"));
        assert!(matches("app/#", "app"));
        assert!(matches("#", "a/b/c"));
        assert!(!matches("#", "$aws/events/x"));
        assert!(matches("$aws/events/#", "$aws/events/x"));
        assert!(!matches("a/+", "a/b/c"));
        assert!(matches("a/+/c", "a//c"));
        assert!(valid_filter("a/+/#"));
        assert!(!valid_filter("a/#/b"));
        assert!(!valid_filter("a/b+"));
    }
}
