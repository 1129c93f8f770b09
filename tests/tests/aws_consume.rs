//! `processor consume` against the emulator (moto): Gone feedback through the stream, a split
//! stream read through ListShards, and parent shards before children. The ordering itself is
//! checked with an in-memory shard source: after a split moto puts every record, old and new,
//! back into the closed parent, unlike Kinesis, so children there are always empty.

use aws_adapters::checkpoint::{DynamoCheckpoints, MemoryCheckpoints};
use aws_adapters::sink_port::RecordingSink;
use aws_adapters::source::{KinesisSource, MemorySource};
use aws_adapters::store_port::MemoryRevisionedStore;
use processor::consume::consume;
use serde_json::json;
use tests::aws::{
    assert_stored_as_folded, bob_in_room_42, both_in_room_42, consume_until_idle, expected,
    feeding_back, fixture, handler, put_all, stored, until_idle, ws_connect, ws_message, FlakySink,
};

#[tokio::test]
async fn a_gone_connection_is_fed_back_through_the_stream_and_ends_the_client() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    let lines = [
        ws_connect("alice-conn", "alice", t),
        ws_connect("bob-conn", "bob", t + 10),
        ws_message(
            "alice-conn",
            t,
            t + 20,
            json!({"action":"sendmessage","message":"hi all"}),
        ),
    ];
    put_all(&f, &lines).await.unwrap();
    let handler = feeding_back(&f, &["bob-conn"]);
    let summary = consume_until_idle(&f, &handler).await.unwrap();
    // The three records, then the connection_gone record the processor put on the stream.
    assert_eq!(summary.records, 4, "{summary:?}");
    assert_eq!(handler.sink.sent().len(), 1);
    let mut all = lines.to_vec();
    all.push(
        json!({"kind":"connection_gone","schemaVersion":1,"connectionId":"bob-conn","timestamp":t + 20})
            .to_string(),
    );
    let want = expected(&all);
    let got = stored(f.store.as_ref(), &want).await.unwrap();
    let bob = got.iter().find(|c| c.client_id == "bob").unwrap();
    assert!(!bob.online && bob.connections.is_empty(), "{bob:?}");
    let alice = got.iter().find(|c| c.client_id == "alice").unwrap();
    assert!(alice.online);

    // Consuming again from the checkpoints reads nothing more.
    let again = consume_until_idle(&f, &handler).await.unwrap();
    assert_eq!(again.records, 0);
}

/// The fold chose bob's socket for a room's message, but API Gateway had closed it (410): bob has
/// no other socket, so the message is pushed to him instead of being lost.
#[tokio::test]
async fn a_room_message_to_a_gone_socket_is_pushed_instead() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    let mut lines = both_in_room_42(t);
    lines.extend([
        ws_message(
            "alice-conn",
            t,
            t + 40,
            json!({"action":"sendmessage","chatId":"42","message":"still there?"}),
        ),
        // A broadcast is for live sockets only: nothing is pushed for it.
        ws_message(
            "alice-conn",
            t,
            t + 50,
            json!({"action":"sendmessage","message":"hi all"}),
        ),
    ]);
    put_all(&f, &lines).await.unwrap();
    let handler = feeding_back(&f, &["bob-conn"]);
    consume_until_idle(&f, &handler).await.unwrap();
    let sent: Vec<(String, String)> = handler
        .sink
        .sent()
        .iter()
        .map(|d| (d.channel.name().to_owned(), d.channel.target().to_owned()))
        .collect();
    assert_eq!(
        sent,
        [
            ("websocket".to_owned(), "bob-conn".to_owned()),
            ("push".to_owned(), "bob".to_owned()),
        ],
        "the room's message to bob's gone socket, then to bob by push; the broadcast to him is \
         not retried: {sent:?}"
    );
    let push = &handler.sink.sent()[1];
    assert_eq!(push.payload["message"], "still there?");
}

/// A parent shard split into two children: bob joins room 42 on the parent, alice writes to it
/// on a child, bob leaves on the other.
fn resharded() -> MemorySource {
    let t = 1_732_350_000_000u64;
    let source = MemorySource::new();
    // Children sort before their parent, so a naive reader would take them first.
    source.add_shard("a-child-1", &["z-parent"], false);
    source.add_shard("a-child-2", &["z-parent"], false);
    source.add_shard("z-parent", &[], true);
    for l in bob_in_room_42(t) {
        source.put("z-parent", l.as_bytes());
    }
    source.put(
        "a-child-1",
        ws_message(
            "alice-conn",
            t,
            t + 30,
            json!({"action":"sendmessage","chatId":"42","message":"after the split"}),
        )
        .as_bytes(),
    );
    source.put(
        "a-child-2",
        ws_message(
            "bob-conn",
            t + 10,
            t + 40,
            json!({"action":"leave","chatId":"42"}),
        )
        .as_bytes(),
    );
    source
}

#[allow(clippy::unwrap_used)] // a test's helper: a failure is the test's
async fn reshard_consumed(source: &MemorySource) {
    let handler = handler(MemoryRevisionedStore::new(), RecordingSink::new());
    let checkpoints = MemoryCheckpoints::default();
    let summary = consume(source, &checkpoints, &handler, &until_idle())
        .await
        .unwrap();
    assert_eq!(summary.shard_order[0], "z-parent", "{summary:?}");
    assert_eq!(summary.records, 5);
    // bob joined (parent) before alice wrote (child): he got the message.
    let sent = handler.sink.sent();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].recipient(), Some("bob"));
}

#[tokio::test]
async fn after_a_reshard_parents_are_read_to_their_end_before_children() {
    reshard_consumed(&resharded()).await;
}

#[tokio::test]
async fn empty_pages_in_the_middle_of_a_shard_neither_finish_it_nor_end_until_idle() {
    // GetRecords may answer empty pages before a shard's records: the closed parent must not
    // count as finished (its children would be read first), nor the run as idle.
    let source = resharded();
    source.inject_empty_pages("z-parent", 3);
    source.inject_empty_pages("a-child-2", 2);
    reshard_consumed(&source).await;
}

#[tokio::test]
async fn consume_reads_a_split_stream_in_the_emulator() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    let before = bob_in_room_42(t);
    put_all(&f, &before).await.unwrap();
    f.kinesis
        .split_shard()
        .stream_name(&f.stream)
        .shard_to_split("shardId-000000000000")
        .new_starting_hash_key((1u128 << 127).to_string())
        .send()
        .await
        .unwrap();
    let after = [ws_message(
        "alice-conn",
        t,
        t + 30,
        json!({"action":"sendmessage","chatId":"42","message":"after the split"}),
    )];
    put_all(&f, &after).await.unwrap();
    let source = KinesisSource::new(f.kinesis.clone(), &f.stream);
    // ListShards as the consumer sees it: the parent closed, both children naming it.
    let shards = aws_adapters::source::ShardSource::shards(&source)
        .await
        .unwrap();
    assert_eq!(shards.len(), 3, "{shards:?}");
    let parent = shards
        .iter()
        .find(|s| s.id == "shardId-000000000000")
        .unwrap();
    assert!(parent.closed && parent.parents.is_empty(), "{parent:?}");
    for child in shards.iter().filter(|s| s.id != parent.id) {
        assert_eq!(child.parents, std::slice::from_ref(&parent.id), "{child:?}");
        assert!(!child.closed, "{child:?}");
    }

    let handler = handler(f.store.clone(), RecordingSink::new());
    let checkpoints = DynamoCheckpoints::new(f.dynamo.clone(), &f.table, &f.stream);
    let summary = consume(&source, &checkpoints, &handler, &until_idle())
        .await
        .unwrap();
    assert_eq!(summary.records, 4, "{summary:?}");
    assert_eq!(summary.shard_order[0], parent.id, "{summary:?}");
    let sent = handler.sink.sent();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].recipient(), Some("bob"));
    let all: Vec<String> = before.iter().chain(&after).cloned().collect();
    assert_stored_as_folded(f.store.as_ref(), &all).await;
    // Every shard is finished: a second run reads nothing.
    let again = consume(&source, &checkpoints, &handler, &until_idle())
        .await
        .unwrap();
    assert_eq!(again.records, 0, "{again:?}");
}

#[tokio::test]
async fn after_a_failed_record_consume_checkpoints_before_it_and_reads_on_from_it() {
    let f = fixture(1).await.unwrap();
    let t = 1_732_350_000_000u64;
    let message = |text: &str, at: u64| {
        ws_message(
            "alice-conn",
            t,
            at,
            json!({"action":"sendmessage","chatId":"42","message":text}),
        )
    };
    let mut lines = bob_in_room_42(t).to_vec();
    lines.extend([
        message("one", t + 30),
        message("two", t + 40),
        message("three", t + 50),
    ]);
    put_all(&f, &lines).await.unwrap();
    // The second delivery ("two", record 4) is throttled once.
    let handler = handler(f.store.clone(), FlakySink::new(2));
    let source = KinesisSource::new(f.kinesis.clone(), &f.stream);
    let checkpoints = DynamoCheckpoints::new(f.dynamo.clone(), &f.table, &f.stream);
    let summary = consume(&source, &checkpoints, &handler, &until_idle())
        .await
        .unwrap();
    assert_eq!(summary.failed_batches, 1, "{summary:?}");
    // Six records, then the two from the failed one on, read again.
    assert_eq!(summary.records, 8, "{summary:?}");
    let messages: Vec<String> = handler
        .sink
        .inner
        .sent()
        .iter()
        .map(|d| d.payload["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, ["one", "two", "three"]);
    assert_stored_as_folded(f.store.as_ref(), &lines).await;
    let again = consume(&source, &checkpoints, &handler, &until_idle())
        .await
        .unwrap();
    assert_eq!(again.records, 0, "{again:?}");
}
