//! DynamoDB may leave part of a BatchWriteItem unprocessed (throttling, a partition at its
//! limit) and moto never does, so an SDK interceptor makes it: it takes items out of a request
//! before it is sent, and puts them back into the response as `UnprocessedItems`, exactly what
//! DynamoDB answers when it did not write them.

use crate::common::workload;
use crate::{fixture, rt, sdk};
use aws_adapters::dynamo::DynamoStore;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextMut, FinalizerInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::types::WriteRequest;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Holds back every other item of the first `calls` BatchWriteItem calls.
#[derive(Debug, Clone)]
pub struct HoldBack {
    pub calls: Arc<AtomicUsize>,
    pub held: Arc<AtomicUsize>,
}

/// What one call held back, from its request to its response.
#[derive(Debug)]
struct Held(HashMap<String, Vec<WriteRequest>>);

impl Storable for Held {
    type Storer = StoreReplace<Self>;
}

impl Intercept for HoldBack {
    fn name(&self) -> &'static str {
        "HoldBack"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(input) = context.input_mut().downcast_mut::<BatchWriteItemInput>() else {
            return Ok(());
        };
        let budget = self.calls.load(Ordering::SeqCst);
        if budget == 0 {
            return Ok(());
        }
        self.calls.store(budget - 1, Ordering::SeqCst);
        let mut held = HashMap::new();
        for (table, requests) in input.request_items.iter_mut().flatten() {
            let all = std::mem::take(requests);
            let (keep, hold): (Vec<_>, Vec<_>) =
                all.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
            *requests = keep.into_iter().map(|(_, r)| r).collect();
            self.held.fetch_add(hold.len(), Ordering::SeqCst);
            held.insert(table.clone(), hold.into_iter().map(|(_, r)| r).collect());
        }
        cfg.interceptor_state().store_put(Held(held));
        Ok(())
    }

    fn modify_before_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Held(held)) = cfg.load::<Held>() else {
            return Ok(());
        };
        let Some(Ok(output)) = context.output_or_error_mut() else {
            return Ok(());
        };
        if let Some(output) = output.downcast_mut::<BatchWriteItemOutput>() {
            let unprocessed = output.unprocessed_items.get_or_insert_with(HashMap::new);
            for (table, requests) in held {
                unprocessed
                    .entry(table.clone())
                    .or_default()
                    .extend(requests.iter().cloned());
            }
        }
        Ok(())
    }
}

#[test]
fn dynamodb_sink_writes_items_the_table_left_unprocessed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let rt = rt();
    let (_, _, plan) = rt.block_on(fixture(1));
    let hold_back = HoldBack {
        calls: Arc::new(AtomicUsize::new(5)),
        held: Arc::new(AtomicUsize::new(0)),
    };
    let lines = workload();
    let mut world = tests::aws::expected(&lines);
    let store = rt.block_on(async {
        let config = aws_sdk_dynamodb::config::Builder::from(&sdk().await)
            .interceptor(hold_back.clone())
            .build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), &plan.table)
    });
    let outcome = rt
        .block_on(replay::sink::dynamodb::write_world(&store, &mut world, &[]))
        .unwrap();
    assert_eq!(
        hold_back.calls.load(Ordering::SeqCst),
        0,
        "five calls held items back"
    );
    assert!(hold_back.held.load(Ordering::SeqCst) > 20);
    assert!(outcome.written > 100);
    // Every item is there all the same, and the stored projections are the replayed ones.
    let stored = rt.block_on(tests::aws::stored(&store, &world)).unwrap();
    assert_eq!(stored, world.clients());
    let again = rt
        .block_on(replay::sink::dynamodb::write_world(&store, &mut world, &[]))
        .unwrap();
    assert_eq!(again.written, 0, "nothing is left to write");
}
