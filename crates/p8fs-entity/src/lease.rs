//! A pooled connection leased for one operation, for the SQL providers.
//!
//! An operation's future can be dropped half-way: its deadline passed, or its caller (an
//! HTTP request that timed out, a client that went away) stopped waiting. The connection
//! may then still be running a statement. Returned to the pool as it is, it would answer
//! the next caller only after the abandoned statement (PostgreSQL pipelines queries on a
//! connection), and the server would run the statement to its end. A [`Lease`] dropped
//! before [`Lease::finish`] hands the connection to the provider's `abandon` instead, which
//! closes it and asks the server to stop the statement.

/// A connection `C` for one operation; `A` runs on it when the operation is abandoned.
pub struct Lease<C, A: FnOnce(C)> {
    conn: Option<C>,
    abandon: Option<A>,
}

impl<C, A: FnOnce(C)> Lease<C, A> {
    /// Leases `conn`; `abandon` gets it if the lease is dropped before [`Lease::finish`].
    pub fn new(conn: C, abandon: A) -> Self {
        Self { conn: Some(conn), abandon: Some(abandon) }
    }

    /// Ends the lease: the operation ran to its end (with an answer, or an error the server
    /// sent), so the connection goes back where it came from when it is dropped here.
    ///
    /// # Errors
    /// `result`'s, unchanged.
    pub fn finish<T, E>(mut self, result: Result<T, E>) -> Result<T, E> {
        self.abandon = None;
        drop(self.conn.take());
        result
    }
}

impl<C, A: FnOnce(C)> std::ops::Deref for Lease<C, A> {
    type Target = C;
    fn deref(&self) -> &C {
        // Only `finish` and `drop` empty it, and both consume the lease.
        self.conn.as_ref().unwrap_or_else(|| unreachable!("a lease is used after it ended"))
    }
}

impl<C, A: FnOnce(C)> std::ops::DerefMut for Lease<C, A> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("a lease is used after it ended"))
    }
}

impl<C, A: FnOnce(C)> Drop for Lease<C, A> {
    fn drop(&mut self) {
        if let (Some(conn), Some(abandon)) = (self.conn.take(), self.abandon.take()) {
            abandon(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::Lease;

    #[test]
    fn only_an_unfinished_lease_is_abandoned() {
        let abandoned = Arc::new(Mutex::new(Vec::new()));
        let record = |a: &Arc<Mutex<Vec<u32>>>| {
            let a = Arc::clone(a);
            move |c: u32| a.lock().unwrap().push(c)
        };
        let mut done = Lease::new(1u32, record(&abandoned));
        *done += 1;
        let seen = *done;
        assert_eq!(done.finish::<_, ()>(Ok(seen)), Ok(2));
        drop(Lease::new(7u32, record(&abandoned)));
        assert_eq!(*abandoned.lock().unwrap(), vec![7]);
    }
}
