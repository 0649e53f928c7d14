//! Transactions: `MULTI`/`EXEC` run under the [`gate::Gate`] as Redis runs them, alone, and
//! `WATCH` is kept by [`watch::Watches`].

pub mod gate;
pub mod watch;
