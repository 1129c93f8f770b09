//! What `processor dev` says when it is up: where each part listens, and commands to paste for
//! the ports it actually bound.

/// The ports bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// The WebSocket gateway.
    pub ws: u16,
    /// The MQTT broker.
    pub mqtt: u16,
    /// The HTTP API.
    pub http: u16,
}

/// The lines to print at start. The first is `ws=... mqtt=... http=...`, for scripts.
pub fn banner(ports: Ports, tokens: bool) -> String {
    let Ports { ws, mqtt, http } = ports;
    let who = if tokens {
        "token=JWT"
    } else {
        "clientId=alice"
    };
    format!(
        "ws={ws} mqtt={mqtt} http={http}\n\
         processor dev is up on 127.0.0.1; watch it live at http://127.0.0.1:{http}/\n\
         and try, each in its own terminal:\n  \
         wscat -c 'ws://127.0.0.1:{ws}/?{who}'    # then send {{\"action\":\"join\",\"chatId\":\"42\"}}\n  \
         mosquitto_sub -p {mqtt} -i bob -t 'app/bob/chat/42'\n  \
         mosquitto_pub -p {mqtt} -i thermostat-1 -t devices/thermostat-1/params -m '{{\"temperature\":21.5}}'\n  \
         curl -s http://127.0.0.1:{http}/clients/alice\n\
         Ctrl-C stops it and says what it did."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_name_the_ports_bound() {
        let text = banner(
            Ports {
                ws: 1,
                mqtt: 2,
                http: 3,
            },
            false,
        );
        assert!(text.starts_with("ws=1 mqtt=2 http=3\n"));
        assert!(text.contains("ws://127.0.0.1:1/?clientId=alice"));
        assert!(text.contains("mosquitto_sub -p 2 "));
        assert!(text.contains("http://127.0.0.1:3/clients/alice"));
        assert!(text.contains("live at http://127.0.0.1:3/\n"));
        let with_tokens = banner(
            Ports {
                ws: 1,
                mqtt: 2,
                http: 3,
            },
            true,
        );
        assert!(with_tokens.contains("?token=JWT"));
    }
}
