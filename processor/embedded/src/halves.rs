//! A map over a slice in two halves, the second on a scoped helper thread: for the steps that
//! read a whole folded world at once (copying the entries a commit writes, deriving every
//! client's view), which only read it and cost microseconds per item.

use projections::{ClientProjection, World};

/// Every loaded client's view, by client id, as [`World::clients`] gives them: a view costs
/// microseconds (the presence rule over the client's sessions, a string per id it lists), which
/// over every client of a store or an archive is a noticeable part of a run.
pub fn clients(world: &World) -> Vec<ClientProjection> {
    map(&world.client_ids(), |id| world.client(id))
        .into_iter()
        .flatten()
        .collect()
}

/// `f` applied to every item of `items`, in order, the second half on a helper thread. The
/// result, and a panic of `f`, are what a plain map on this thread gives.
pub fn map<T: Sync, U: Send>(items: &[T], f: impl Fn(&T) -> U + Sync) -> Vec<U> {
    let (first, second) = items.split_at(items.len() / 2);
    std::thread::scope(|scope| {
        let f = &f;
        let helper = scope.spawn(move || second.iter().map(f).collect::<Vec<U>>());
        let mut out: Vec<U> = Vec::with_capacity(items.len());
        out.extend(first.iter().map(f));
        match helper.join() {
            Ok(rest) => out.extend(rest),
            // A bug in `f`: it panics here as it would have on one thread.
            Err(panic) => std::panic::resume_unwind(panic),
        }
        out
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn maps_in_order_whatever_the_length() {
        for n in [0, 1, 2, 3, 10, 1001] {
            let items: Vec<u32> = (0..n).collect();
            assert_eq!(
                super::map(&items, |x| x * 2),
                items.iter().map(|x| x * 2).collect::<Vec<_>>()
            );
        }
    }
}
