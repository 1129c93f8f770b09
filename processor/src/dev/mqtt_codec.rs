//! MQTT 3.1.1 framing, pure (no I/O): the packets a QoS 0/1 broker without retained messages
//! needs, parsed from and encoded to bytes. The broker ([`super::broker`]) does the I/O.
//!
//! Only what the spec requires of a server is parsed: CONNECT, PUBLISH, PUBACK, SUBSCRIBE,
//! UNSUBSCRIBE, PINGREQ and DISCONNECT arrive; CONNACK, PUBLISH, PUBACK, SUBACK, UNSUBACK and
//! PINGRESP leave. Anything else (QoS 2 flows, unknown types) is a protocol error, and the
//! broker closes the connection, as the spec says a server must.

/// The largest packet accepted (AWS IoT Core's limit is 128 KB of payload).
pub const MAX_PACKET: usize = 256 * 1024;

/// One MQTT control packet.
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
        /// The protocol level (4 for 3.1.1, 3 for 3.1).
        level: u8,
    },
    /// CONNACK with its return code (0 accepted).
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

/// A malformed or unsupported packet: the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mqtt protocol error: {0}")]
pub struct ProtocolError(pub &'static str);

/// Parses one packet from the front of `buf`: `Ok(None)` when more bytes are needed, else the
/// packet and how many bytes it took.
///
/// # Errors
/// A malformed, oversized or unsupported packet.
pub fn parse(buf: &[u8]) -> Result<Option<(Packet, usize)>, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let mut len: usize = 0;
    let mut shift = 0;
    let mut i = 1;
    loop {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return Err(ProtocolError("remaining length over 4 bytes"));
        }
    }
    if len > MAX_PACKET {
        return Err(ProtocolError("packet too large"));
    }
    let Some(body) = buf.get(i..i + len) else {
        return Ok(None);
    };
    let packet = parse_body(first, body)?;
    Ok(Some((packet, i + len)))
}

fn parse_body(first: u8, body: &[u8]) -> Result<Packet, ProtocolError> {
    let mut r = Reader { buf: body, pos: 0 };
    let flags = first & 0x0f;
    match first >> 4 {
        1 => {
            let name = r.string()?;
            let level = r.u8()?;
            if !matches!((name.as_str(), level), ("MQTT", 4) | ("MQIsdp", 3)) {
                return Err(ProtocolError("unsupported protocol name or level"));
            }
            let connect_flags = r.u8()?;
            let keep_alive = r.u16()?;
            let client_id = r.string()?;
            if connect_flags & 0x04 != 0 {
                // Will topic and message: read past them (wills are not published).
                r.string()?;
                r.bytes()?;
            }
            if connect_flags & 0x80 != 0 {
                r.string()?;
            }
            if connect_flags & 0x40 != 0 {
                r.bytes()?;
            }
            Ok(Packet::Connect {
                client_id,
                keep_alive,
                clean_session: connect_flags & 0x02 != 0,
                level,
            })
        }
        3 => {
            let qos = (flags >> 1) & 0x03;
            if qos > 1 {
                return Err(ProtocolError("QoS 2 is not supported"));
            }
            let topic = r.string()?;
            let pkid = if qos > 0 { r.u16()? } else { 0 };
            Ok(Packet::Publish {
                qos,
                retain: flags & 0x01 != 0,
                topic,
                pkid,
                payload: r.rest().to_vec(),
            })
        }
        4 => Ok(Packet::PubAck(r.u16()?)),
        8 => {
            let pkid = r.u16()?;
            let mut filters = Vec::new();
            while !r.done() {
                let filter = r.string()?;
                filters.push((filter, r.u8()? & 0x03));
            }
            if filters.is_empty() {
                return Err(ProtocolError("SUBSCRIBE without filters"));
            }
            Ok(Packet::Subscribe { pkid, filters })
        }
        10 => {
            let pkid = r.u16()?;
            let mut filters = Vec::new();
            while !r.done() {
                filters.push(r.string()?);
            }
            Ok(Packet::Unsubscribe { pkid, filters })
        }
        12 => Ok(Packet::PingReq),
        14 => Ok(Packet::Disconnect),
        _ => Err(ProtocolError("unexpected packet type")),
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
    fn u8(&mut self) -> Result<u8, ProtocolError> {
        let b = *self.buf.get(self.pos).ok_or(ProtocolError("truncated"))?;
        self.pos += 1;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16, ProtocolError> {
        Ok(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }
    fn bytes(&mut self) -> Result<&[u8], ProtocolError> {
        let n = usize::from(self.u16()?);
        let out = self
            .buf
            .get(self.pos..self.pos + n)
            .ok_or(ProtocolError("truncated"))?;
        self.pos += n;
        Ok(out)
    }
    fn string(&mut self) -> Result<String, ProtocolError> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ProtocolError("string is not UTF-8"))
    }
    fn rest(&mut self) -> &[u8] {
        let out = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        out
    }
}

/// Appends `packet`'s bytes to `out`.
pub fn encode(packet: &Packet, out: &mut Vec<u8>) {
    let mut body = Vec::new();
    let first = match packet {
        Packet::Connect {
            client_id,
            keep_alive,
            clean_session,
            level,
        } => {
            put_str(&mut body, if *level == 3 { "MQIsdp" } else { "MQTT" });
            body.push(*level);
            body.push(if *clean_session { 0x02 } else { 0 });
            body.extend_from_slice(&keep_alive.to_be_bytes());
            put_str(&mut body, client_id);
            0x10
        }
        Packet::ConnAck { code } => {
            body.extend_from_slice(&[0, *code]);
            0x20
        }
        Packet::Publish {
            qos,
            retain,
            topic,
            pkid,
            payload,
        } => {
            put_str(&mut body, topic);
            if *qos > 0 {
                body.extend_from_slice(&pkid.to_be_bytes());
            }
            body.extend_from_slice(payload);
            0x30 | (qos << 1) | u8::from(*retain)
        }
        Packet::PubAck(pkid) => {
            body.extend_from_slice(&pkid.to_be_bytes());
            0x40
        }
        Packet::Subscribe { pkid, filters } => {
            body.extend_from_slice(&pkid.to_be_bytes());
            for (filter, qos) in filters {
                put_str(&mut body, filter);
                body.push(*qos);
            }
            0x82
        }
        Packet::SubAck { pkid, codes } => {
            body.extend_from_slice(&pkid.to_be_bytes());
            body.extend_from_slice(codes);
            0x90
        }
        Packet::Unsubscribe { pkid, filters } => {
            body.extend_from_slice(&pkid.to_be_bytes());
            for filter in filters {
                put_str(&mut body, filter);
            }
            0xa2
        }
        Packet::UnsubAck(pkid) => {
            body.extend_from_slice(&pkid.to_be_bytes());
            0xb0
        }
        Packet::PingReq => 0xc0,
        Packet::PingResp => 0xd0,
        Packet::Disconnect => 0xe0,
    };
    out.push(first);
    let mut len = body.len();
    loop {
        // Truncation is the point: the low 7 bits of what is left.
        #[allow(clippy::cast_possible_truncation)]
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(&body);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let n = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&s.as_bytes()[..usize::from(n)]);
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
                level: 4,
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
            let mut bytes = Vec::new();
            encode(&packet, &mut bytes);
            assert_eq!(parse(&bytes[..bytes.len() - 1]).unwrap(), None);
            assert_eq!(parse(&bytes).unwrap(), Some((packet, bytes.len())));
        }
    }

    #[test]
    fn refuses_qos2_and_unknown_types() {
        assert!(parse(&[0x34, 0x02, 0x00, 0x00]).is_err());
        assert!(parse(&[0xf0, 0x00]).is_err());
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
