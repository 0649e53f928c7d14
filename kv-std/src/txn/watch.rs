//! `WATCH`: which clients watch which keys, and a flag per watching client that any write to one
//! of its keys raises.
//!
//! Every write the server makes is logged as the command that makes it (`SET`, `DEL`,
//! `PEXPIREAT`, `PERSIST`, `MSET`), under the locks of the keys it writes and after the table
//! changed ([`crate::db::Db::log`]), whatever made it: a client on any worker, an expiry, an
//! eviction, a flush. So that is where keys are touched ([`Watches::touch`]): a client that
//! registers its key before the write's touch looks is flagged; one that registers after it
//! reads the written value (the write came before the touch, which came before the
//! registration, under the registry's lock). With no key watched, a touch is one load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Registry shards: a touch locks the one its key hashes to.
const SHARDS: usize = 16;

/// One shard: each watched key's watchers' flags.
type Shard = Mutex<HashMap<Vec<u8>, Vec<Arc<AtomicBool>>>>;

/// Who watches what.
#[derive(Default)]
pub struct Watches {
    /// Keys watched, counting each client's: zero lets a touch return at once.
    watched: AtomicUsize,
    shards: [Shard; SHARDS],
}

impl Watches {
    fn shard(&self, key: &[u8]) -> &Shard {
        // FNV-1a: keys from clients, but a bad spread only costs contention.
        let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        &self.shards[(h % SHARDS as u64) as usize]
    }

    /// Raises the flag of every client watching `key`.
    pub fn touch(&self, key: &[u8]) {
        if self.watched.load(Ordering::Acquire) == 0 {
            return;
        }
        let shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flags) = shard.get(key) {
            for f in flags {
                f.store(true, Ordering::Release);
            }
        }
    }

    /// Raises `flag` on the next write of `key`.
    pub fn watch(&self, key: &[u8], flag: &Arc<AtomicBool>) {
        let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        shard
            .entry(key.to_vec())
            .or_default()
            .push(Arc::clone(flag));
        self.watched.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets `flag`'s watch of `key`.
    pub fn unwatch(&self, key: &[u8], flag: &Arc<AtomicBool>) {
        let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(flags) = shard.get_mut(key) {
            if let Some(at) = flags.iter().position(|f| Arc::ptr_eq(f, flag)) {
                flags.swap_remove(at);
                self.watched.fetch_sub(1, Ordering::AcqRel);
            }
            if flags.is_empty() {
                shard.remove(key);
            }
        }
    }

    /// Keys watched, by any client (INFO's `watching_clients`-like figure).
    pub fn watched(&self) -> usize {
        self.watched.load(Ordering::Relaxed)
    }
}

/// The keys of a command as kv logs it: `MSET k v k v …` names every other argument, the others
/// (`SET`, `DEL`, `PEXPIREAT`, `PERSIST`) their first.
pub fn logged_keys<'a>(command: &'a [&'a [u8]]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let step = if command
        .first()
        .is_some_and(|c| c.eq_ignore_ascii_case(b"MSET"))
    {
        2
    } else {
        usize::MAX
    };
    command.iter().skip(1).step_by(step).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touch_flags_the_watchers_of_that_key_only_until_they_unwatch() {
        let w = Watches::default();
        let (a, b) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        w.watch(b"k", &a);
        w.watch(b"k", &b);
        w.watch(b"other", &b);
        w.touch(b"nothing");
        assert!(!a.load(Ordering::Relaxed) && !b.load(Ordering::Relaxed));
        w.touch(b"k");
        assert!(a.load(Ordering::Relaxed) && b.load(Ordering::Relaxed));
        a.store(false, Ordering::Relaxed);
        w.unwatch(b"k", &a);
        w.touch(b"k");
        assert!(!a.load(Ordering::Relaxed));
        w.unwatch(b"k", &b);
        w.unwatch(b"other", &b);
        assert_eq!(w.watched(), 0);
    }

    #[test]
    fn logged_commands_name_their_keys() {
        let keys = |c: &[&[u8]]| logged_keys(c).map(<[u8]>::to_vec).collect::<Vec<_>>();
        assert_eq!(keys(&[b"SET", b"k", b"v", b"PXAT", b"5"]), [b"k".to_vec()]);
        assert_eq!(keys(&[b"DEL", b"k"]), [b"k".to_vec()]);
        assert_eq!(
            keys(&[b"MSET", b"a", b"1", b"b", b"2"]),
            [b"a".to_vec(), b"b".to_vec()]
        );
    }
}
