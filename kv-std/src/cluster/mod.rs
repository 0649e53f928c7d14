//! Cluster mode: kv as a node of a Redis Cluster (`docs/CLUSTER.md`).
//!
//! - [`state`]: what a node knows of the cluster (nodes, roles, config epochs, slot owners, the
//!   slots it is moving), written as `CLUSTER NODES` text, which is also the config file's form.
//! - [`gossip`]: nodes exchange their views over the normal port (`CLUSTER GOSSIP`, kv's), so
//!   every node converges on one slot map: per slot, the claim with the highest config epoch.
//! - Here: the flags, the config file (kept crash-safely, as the backup file is), and the routing
//!   of each command with keys: served, or `-MOVED`, `-ASK`, `-TRYAGAIN`, `-CROSSSLOT`,
//!   `-CLUSTERDOWN` with Redis's texts.
//!
//! **The slot gate.** kv runs commands on several threads at once, so Redis's rule for a slot
//! being migrated ("the keys are here: serve; none is: `-ASK`") needs a barrier against a
//! `MIGRATE` of the same key on another thread. Each slot has a [`SlotGate`]: a command with
//! keys enters its slot's gate (one atomic add, which also reads the slot's mode: mine,
//! migrating, importing) and leaves it when it has run; `MIGRATE` claims the gate, waits for the
//! commands inside to leave, moves its keys and opens the gate again. A command thus either ran
//! before the move (and the move carries its write) or runs after it (and finds the key gone, so
//! it is sent to the target). `kv_nostd::slotgate` has the argument, and loom checks it.
//!
//! There is no failure detection and no election: a shard's failover is `CLUSTER FAILOVER` on a
//! replica, or Redis Sentinel watching the shard's primary (in cluster mode `REPLICAOF NO ONE` on
//! a replica takes its primary's slots), and the new primary's higher config epoch wins its
//! slots everywhere.

pub mod gossip;
pub mod state;

use crate::cmd::spec::Spec;
use crate::db::Db;
use kv_nostd::keyslot::{key_slot, SLOTS};
use kv_nostd::resp::Request;
use kv_nostd::slotgate::{SlotGate, IMPORTING, MIGRATING, MINE};
use state::{Node, State};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// The cluster settings given at start (flags, or the configuration file's Redis names).
#[derive(clap::Args, Debug, Clone)]
#[group(id = "ClusterFlags")]
pub struct Flags {
    /// Run as a node of a Redis Cluster (Redis's cluster-enabled).
    #[arg(long, default_value = "no", value_parser = parse_yes_no, action = clap::ArgAction::Set, value_name = "yes|no")]
    pub cluster_enabled: bool,

    /// Where this node keeps its id, epochs and view of the cluster (Redis's
    /// cluster-config-file); written by the node, never by hand.
    #[arg(long, default_value = "nodes.conf", value_name = "PATH")]
    pub cluster_config_file: PathBuf,

    /// Milliseconds without an answer after which another node is shown as failing (`fail?`).
    #[arg(long, default_value_t = 15_000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub cluster_node_timeout: u64,

    /// The address this node gives the others and clients (Redis's cluster-announce-ip);
    /// otherwise the address the first node that reaches it saw.
    #[arg(long, value_name = "IP")]
    pub cluster_announce_ip: Option<String>,

    /// Refuse every command with keys (`-CLUSTERDOWN`) while some slot has no owner
    /// (Redis's cluster-require-full-coverage).
    #[arg(long, default_value = "yes", value_parser = parse_yes_no, action = clap::ArgAction::Set, value_name = "yes|no")]
    pub cluster_require_full_coverage: bool,

    /// While the cluster is down, still serve reads of the slots this node has (Redis's
    /// cluster-allow-reads-when-down).
    #[arg(long, default_value = "no", value_parser = parse_yes_no, action = clap::ArgAction::Set, value_name = "yes|no")]
    pub cluster_allow_reads_when_down: bool,
}

impl Default for Flags {
    fn default() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            flags: Flags,
        }
        Only::parse_from(["kv-server"]).flags
    }
}

fn parse_yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("expected yes or no, got '{other}'")),
    }
}

/// `-CLUSTERDOWN` for a slot nobody owns.
pub const UNBOUND: &str = "CLUSTERDOWN Hash slot not served";
/// `-CLUSTERDOWN` while some slot has no owner.
pub const DOWN: &str = "CLUSTERDOWN The cluster is down";
/// `-CLUSTERDOWN` for a write while down with reads allowed.
pub const DOWN_READS: &str = "CLUSTERDOWN The cluster is down and only accepts read commands";
/// A request whose keys are in more than one slot.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";
/// A multi-key request some of whose keys were moved.
pub const TRYAGAIN: &str = "TRYAGAIN Multiple keys request during rehashing of slot";

/// A node of a cluster: its view, the gates of its slots, its config file.
pub struct Cluster {
    state: RwLock<State>,
    gates: Box<[SlotGate]>,
    /// Every slot has an owner (or full coverage is not required).
    ok: AtomicBool,
    flags: Flags,
    /// Views sent and received (`CLUSTER INFO`).
    pub sent: AtomicU64,
    /// See `sent`.
    pub received: AtomicU64,
    /// Wakes the gossip thread early (a `MEET`, a change to spread).
    wake: (Mutex<bool>, Condvar),
    stop: AtomicBool,
    /// The keys of each slot being migrated, listed once (`CLUSTER GETKEYSINSLOT`): no key is
    /// created in a migrating slot, so the list only needs the gone ones filtered out.
    migrating_keys: Mutex<std::collections::HashMap<u16, Vec<Vec<u8>>>>,
    /// This node's view as sent, and the change it is of.
    body: Mutex<Option<(u64, Arc<str>)>>,
    /// The keys of each slot as one visit listed them (`None` once used), and when it was last
    /// used.
    listed: Mutex<Option<(Listing, Instant)>>,
    /// While a listing is kept: the keys written since its visit began, by slot.
    added: Mutex<std::collections::HashMap<u16, std::collections::HashSet<Vec<u8>>>>,
    /// A listing is kept, and writes are noted in `added`.
    tracking: AtomicBool,
    /// The hash of the last view each node sent: a view seen already is not merged again.
    seen: Mutex<std::collections::HashMap<String, u64>>,
    /// Numbers the changes to keep, so an older view never overwrites a newer file.
    generation: AtomicU64,
    /// The generation the file holds.
    written: Mutex<u64>,
    /// A change made lazily, not yet written.
    pending: Mutex<Option<(u64, String)>>,
    /// The file was written since it was last synced to the disk.
    unsynced: AtomicBool,
}

/// The keys of each slot, as one visit of the table listed them; a slot's list is `None` once
/// taken.
type Listing = Vec<Option<Vec<Vec<u8>>>>;

/// How a command with keys is routed.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Serve it; it is inside this slot's gate until [`Cluster::leave`].
    Entered(u16),
    /// Serve it, outside any gate (no keys, an importing slot after `ASKING`, a read on a
    /// replica after `READONLY`).
    Serve,
}

/// What the routing of a command needs to know of its client.
#[derive(Clone, Copy, Debug, Default)]
pub struct Asker {
    /// It sent `ASKING` just before.
    pub asking: bool,
    /// It sent `READONLY`.
    pub readonly: bool,
}

impl Cluster {
    /// Loads the config file, or starts a new node (a new id, no slots) if there is none.
    pub fn open(flags: &Flags, port: u16) -> io::Result<Cluster> {
        let path = &flags.cluster_config_file;
        let mut state = match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => State::parse(&text).map_err(|e| {
                io::Error::other(format!(
                    "the cluster config file {} cannot be read: {e}",
                    path.display()
                ))
            })?,
            Ok(_) => new_state(port),
            Err(e) if e.kind() == io::ErrorKind::NotFound => new_state(port),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot read {}: {e}", path.display()),
                ))
            }
        };
        let me = state.me_mut();
        me.port = port;
        if let Some(ip) = &flags.cluster_announce_ip {
            me.ip.clone_from(ip);
        }
        for node in state.nodes.values_mut() {
            node.link_up = false;
        }
        let cluster = Cluster {
            state: RwLock::new(state),
            gates: (0..SLOTS).map(|_| SlotGate::new()).collect(),
            ok: AtomicBool::new(false),
            flags: flags.clone(),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            wake: (Mutex::new(false), Condvar::new()),
            stop: AtomicBool::new(false),
            migrating_keys: Default::default(),
            seen: Default::default(),
            listed: Mutex::new(None),
            added: Mutex::default(),
            tracking: AtomicBool::new(false),
            body: Mutex::new(None),
            generation: AtomicU64::new(0),
            written: Mutex::new(0),
            pending: Mutex::new(None),
            unsynced: AtomicBool::new(false),
        };
        {
            let state = cluster.view();
            cluster.apply(&state);
            save(path, &state.config_text())?;
            sync(path)?;
            log::info!(
                "cluster mode: node {} with {} slots, config epoch {}",
                state.myself,
                state
                    .ranges_of(&state.myself)
                    .iter()
                    .map(|(a, b)| usize::from(b - a) + 1)
                    .sum::<usize>(),
                state.me().config_epoch
            );
        }
        Ok(cluster)
    }

    /// The settings it was started with.
    pub fn flags(&self) -> &Flags {
        &self.flags
    }

    /// The view, to read.
    pub fn view(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the view with `f`; then the slots' gates follow it, and if `f` says the change
    /// is one to keep (`(_, true)`) the config file is written before this returns (after the
    /// view's lock is released: readers do not wait for the disk).
    pub fn change<R>(&self, f: impl FnOnce(&mut State) -> (R, bool)) -> R {
        let (result, text) = self.change_inner(f);
        if let Some((generation, text)) = text {
            // Views seen before may mean something else to the changed view.
            self.seen.lock().unwrap_or_else(|e| e.into_inner()).clear();
            if let Err(e) = self.write_config(generation, &text) {
                log::error!("cannot write the cluster config file: {e}");
            }
        }
        result
    }

    /// [`Cluster::change`] that leaves the writing of the config file to the gossip thread's
    /// next turn ([`Cluster::save_if_changed`]): for views merged, which come often.
    pub fn change_lazily<R>(&self, f: impl FnOnce(&mut State) -> (R, bool)) -> R {
        let (result, text) = self.change_inner(f);
        if let Some((generation, text)) = text {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.as_ref().is_none_or(|(g, _)| *g < generation) {
                *pending = Some((generation, text));
            }
        }
        result
    }

    fn change_inner<R>(
        &self,
        f: impl FnOnce(&mut State) -> (R, bool),
    ) -> (R, Option<(u64, String)>) {
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        let (result, keep) = f(&mut state);
        // The gates follow what is kept: owners, migrations, this node's role.
        if keep {
            self.apply(&state);
        }
        let text = keep.then(|| {
            let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
            (generation, state.config_text())
        });
        (result, text)
    }

    /// Writes the config file of a change made lazily, if one waits, and syncs the file to the
    /// disk if it changed since the last sync.
    pub fn save_if_changed(&self) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((generation, text)) = pending {
            if let Err(e) = self.write_config(generation, &text) {
                log::error!("cannot write the cluster config file: {e}");
            }
        }
        if self.unsynced.swap(false, Ordering::AcqRel) {
            if let Err(e) = sync(&self.flags.cluster_config_file) {
                log::error!("cannot sync the cluster config file: {e}");
            }
        }
    }

    /// Writes the config file now (`CLUSTER SAVECONFIG`).
    pub fn save_config(&self) -> io::Result<()> {
        let (generation, text) = {
            let state = self.view();
            let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
            (generation, state.config_text())
        };
        self.write_config(generation, &text)
    }

    /// Writes `text`, the view of change `generation`, unless a later one was written already.
    fn write_config(&self, generation: u64, text: &str) -> io::Result<()> {
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        if *written >= generation {
            return Ok(());
        }
        save(&self.flags.cluster_config_file, text)?;
        *written = generation;
        self.unsynced.store(true, Ordering::Release);
        Ok(())
    }

    /// Sets each slot's gate to the mode the view gives it, and whether the cluster is up.
    fn apply(&self, state: &State) {
        let myself = &state.myself;
        let primary = state.me().is_primary();
        for (slot, gate) in self.gates.iter().enumerate() {
            let mut mode = 0;
            if primary && state.owner[slot].as_ref() == Some(myself) {
                mode |= MINE;
                if state.migrating.contains_key(&(slot as u16)) {
                    mode |= MIGRATING;
                }
            }
            if state.importing.contains_key(&(slot as u16)) {
                mode |= IMPORTING;
            }
            if gate.mode() != mode {
                gate.set_mode(mode);
            }
        }
        let covered =
            !self.flags.cluster_require_full_coverage || state.assigned() == usize::from(SLOTS);
        self.ok.store(covered, Ordering::Release);
        let mut cached = self
            .migrating_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cached.retain(|slot, _| state.migrating.contains_key(slot));
    }

    /// Whether the cluster serves commands with keys.
    pub fn is_ok(&self) -> bool {
        self.ok.load(Ordering::Acquire)
    }

    /// The gate of `slot`.
    pub fn gate(&self, slot: u16) -> &SlotGate {
        &self.gates[usize::from(slot)]
    }

    /// Enters `slot`'s gate, waiting while a `MIGRATE` holds it; returns the slot's mode.
    fn enter(&self, slot: u16) -> usize {
        let gate = self.gate(slot);
        let mut spins = 0u32;
        loop {
            if let Some(mode) = gate.try_enter() {
                return mode;
            }
            // A key transfer takes one round trip to the target: yield rather than spin.
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Leaves the gate [`Route::Entered`] entered.
    pub fn leave(&self, slot: u16) {
        self.gate(slot).leave();
    }

    /// Claims `slot` for a key transfer: waits for other transfers of it and for every command
    /// inside it to leave. [`Cluster::end_transfer`] opens it again.
    pub fn begin_transfer(&self, slot: u16) {
        let gate = self.gate(slot);
        while !gate.try_begin_transfer() {
            std::thread::yield_now();
        }
        while !gate.drained() {
            std::thread::yield_now();
        }
    }

    /// Ends a transfer [`Cluster::begin_transfer`] began.
    pub fn end_transfer(&self, slot: u16) {
        self.gate(slot).end_transfer();
    }

    /// Routes a command with keys, as Redis's `getNodeByQuery`: `Ok` to serve it here (inside
    /// its slot's gate when it is this node's slot), or the redirection or error to answer.
    pub fn route(
        &self,
        spec: &Spec,
        req: &Request<'_>,
        asker: Asker,
        db: &Db,
    ) -> Result<Route, String> {
        let one;
        let many;
        let keys: &[&[u8]] = if single_key(spec) {
            match req.args().nth(1) {
                Some(key) => {
                    one = [key];
                    &one
                }
                None => return Ok(Route::Serve),
            }
        } else {
            let argv: Vec<&[u8]> = req.args().collect();
            many = keys_of(spec, &argv);
            &many
        };
        self.route_keys(keys, spec, asker, db)
    }

    /// [`Cluster::route`] for `keys`, the keys of a command like `spec` (or of a transaction's
    /// commands, `spec` then being `EXEC`'s and `write` saying whether any of them writes).
    pub fn route_keys(
        &self,
        keys: &[&[u8]],
        spec: &Spec,
        asker: Asker,
        db: &Db,
    ) -> Result<Route, String> {
        self.route_keys_as(keys, spec, spec.flags.contains(&"write"), asker, db)
    }

    /// [`Cluster::route_keys`] with the write flag given.
    pub fn route_keys_as(
        &self,
        keys: &[&[u8]],
        spec: &Spec,
        write: bool,
        asker: Asker,
        db: &Db,
    ) -> Result<Route, String> {
        let Some(&first) = keys.first() else {
            return Ok(Route::Serve);
        };
        let slot = key_slot(first);
        if keys[1..].iter().any(|k| key_slot(k) != slot) {
            // Redis finds the first key's slot unserved before it compares the others.
            if self.view().owner[usize::from(slot)].is_none() {
                return Err(UNBOUND.into());
            }
            return Err(CROSSSLOT.into());
        }
        let mode = self.enter(slot);
        if mode == MINE && self.is_ok() && spec.command != crate::cmd::Command::Migrate {
            return Ok(Route::Entered(slot));
        }
        // Anything but the common case: decide with the gate held, so the keys cannot move
        // meanwhile, then let go unless the command is served here.
        let mut decided = self.decide(slot, mode, keys, write, spec, asker, db);
        if spec.command == crate::cmd::Command::Migrate && decided == Ok(Route::Entered(slot)) {
            // `MIGRATE` claims the slot itself, and would wait for its own entry.
            decided = Ok(Route::Serve);
        }
        if decided != Ok(Route::Entered(slot)) {
            self.leave(slot);
        }
        decided
    }

    /// [`Cluster::route`] for a request whose slot's mode is not simply "mine".
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        slot: u16,
        mode: usize,
        keys: &[&[u8]],
        write: bool,
        spec: &Spec,
        asker: Asker,
        db: &Db,
    ) -> Result<Route, String> {
        let state = self.view();
        let Some(owner) = state.owner[usize::from(slot)].as_ref() else {
            return Err(UNBOUND.into());
        };
        if !self.is_ok() {
            if !self.flags.cluster_allow_reads_when_down {
                return Err(DOWN.into());
            }
            if write {
                return Err(DOWN_READS.into());
            }
        }
        let migrate = spec.command == crate::cmd::Command::Migrate;
        if mode & (MIGRATING | IMPORTING) != 0 && migrate {
            return Ok(Route::Serve);
        }
        let present = || {
            keys.iter()
                .filter(|k| db.table.contains(k) == Ok(true))
                .count()
        };
        if mode & MINE != 0 {
            if mode & MIGRATING != 0 {
                let present = present();
                if present < keys.len() {
                    if present > 0 {
                        return Err(TRYAGAIN.into());
                    }
                    let Some(target) = state.migrating.get(&slot).and_then(|t| state.nodes.get(t))
                    else {
                        return Err(TRYAGAIN.into());
                    };
                    return Err(format!("ASK {slot} {}:{}", target.ip, target.port));
                }
            }
            return Ok(Route::Entered(slot));
        }
        if mode & IMPORTING != 0 && (asker.asking || spec.flags.contains(&"asking")) {
            if keys.len() > 1 && present() < keys.len() {
                return Err(TRYAGAIN.into());
            }
            return Ok(Route::Serve);
        }
        if asker.readonly && !write && state.me().primary.as_ref() == Some(owner) {
            return Ok(Route::Serve);
        }
        let Some(node) = state.nodes.get(owner) else {
            return Err(UNBOUND.into());
        };
        Err(moved(slot, node))
    }

    /// The keys of migrating `slot`, listed once per migration; the caller filters out those
    /// gone since.
    pub fn migrating_keys(&self, slot: u16, db: &Db) -> Option<Vec<Vec<u8>>> {
        if !self.view().migrating.contains_key(&slot) {
            return None;
        }
        let cached = || {
            self.migrating_keys
                .lock()
                .unwrap_or_else(|e| e.into_inner())
        };
        if let Some(keys) = cached().get(&slot) {
            return Some(keys.clone());
        }
        // The commands that entered before the slot was marked migrating may still create a
        // key: wait for them, then list. No lock is held meanwhile: a command inside the gate
        // may be waiting for the view.
        self.begin_transfer(slot);
        self.end_transfer(slot);
        let keys = self.listed_keys(slot, db);
        cached().insert(slot, keys.clone());
        Some(keys)
    }

    /// Notes that `key` was written (from [`Db::log`], under the key's lock), while a listing
    /// of keys is kept: the listing may lack it.
    pub fn written(&self, key: &[u8]) {
        if self.tracking.load(Ordering::Acquire) {
            let mut added = self.added.lock().unwrap_or_else(|e| e.into_inner());
            let keys = added.entry(key_slot(key)).or_default();
            if !keys.contains(key) {
                keys.insert(key.to_vec());
            }
        }
    }

    /// Every key of `slot` (some perhaps gone since: the caller checks), from one visit of the
    /// table that lists the keys of every slot at once: a reshard moves thousands of slots, and
    /// a visit per slot would read the table that many times. Keys written after the visit began
    /// are noted while the listing is kept ([`Cluster::written`]) and added to a slot's list when
    /// it is taken; each slot's list is taken once.
    fn listed_keys(&self, slot: u16, db: &Db) -> Vec<Vec<u8>> {
        let mut listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        let s = usize::from(slot);
        let now = Instant::now();
        let kept = listed.as_mut().and_then(|(slots, used)| {
            *used = now;
            slots.get_mut(s).and_then(Option::take)
        });
        let mut keys = match kept {
            Some(keys) => keys,
            None => {
                // Writes are noted from before the visit begins: a key the visit misses was
                // written after the visit passed its segment, and is noted.
                self.tracking.store(true, Ordering::SeqCst);
                self.added.lock().unwrap_or_else(|e| e.into_inner()).clear();
                let mut all: Listing = vec![Some(Vec::new()); usize::from(SLOTS)];
                let mut buf = Vec::new();
                db.table.visit(|entry| {
                    let key = crate::db::entry_key(entry, &mut buf);
                    if let Some(keys) = &mut all[usize::from(key_slot(key))] {
                        keys.push(key.to_vec());
                    }
                });
                let keys = all[s].take().unwrap_or_default();
                *listed = Some((all, now));
                keys
            }
        };
        let added = self
            .added
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&slot);
        if let Some(added) = added {
            keys.extend(added);
            keys.sort_unstable();
            keys.dedup();
        }
        keys
    }

    /// Drops a listing of keys unused for `idle`, and stops noting writes for it.
    pub fn drop_idle_listing(&self, idle: Duration) {
        let mut listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        if listed
            .as_ref()
            .is_some_and(|(_, used)| used.elapsed() > idle)
        {
            *listed = None;
            self.tracking.store(false, Ordering::SeqCst);
            self.added.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// Starts a new list of `slot`'s keys (`CLUSTER SETSLOT MIGRATING`).
    pub fn reset_keys(&self, slot: u16) {
        let mut cached = self
            .migrating_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        cached.remove(&slot);
    }

    /// The address of this node's primary, if it is a replica whose primary's address is known.
    pub fn primary_addr(&self) -> Option<(String, u16)> {
        let state = self.view();
        let primary = state.nodes.get(state.me().primary.as_ref()?)?;
        (!primary.ip.is_empty()).then(|| (primary.ip.clone(), primary.port))
    }

    /// Forgets the listed keys of `slot` (a `MIGRATE` moved them or the migration ended).
    pub fn forget_keys(&self, slot: u16, moved: &[&[u8]]) {
        let mut cached = self
            .migrating_keys
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(keys) = cached.get_mut(&slot) {
            keys.retain(|k| !moved.contains(&k.as_slice()));
        }
    }

    /// Wakes the gossip thread now.
    pub fn wake(&self) {
        let (lock, cvar) = &self.wake;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cvar.notify_one();
    }

    /// Sleeps until woken or `timeout` passes.
    /// Sleeps until woken or `timeout` passes; whether it was woken.
    fn sleep(&self, timeout: Duration) -> bool {
        let (lock, cvar) = &self.wake;
        let woken = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (mut woken, _) = cvar
            .wait_timeout_while(woken, timeout, |w| !*w)
            .unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *woken, false)
    }

    /// This node's view as sent to others ([`State::view_text`]), made once per change.
    pub fn view_body(&self) -> Arc<str> {
        let state = self.view();
        let generation = self.generation.load(Ordering::Acquire);
        let mut cached = self.body.lock().unwrap_or_else(|e| e.into_inner());
        match &*cached {
            Some((g, body)) if *g == generation => Arc::clone(body),
            _ => {
                let body: Arc<str> = Arc::from(state.view_text());
                *cached = Some((generation, Arc::clone(&body)));
                body
            }
        }
    }

    /// Whether `sender` sent the view whose hash is `hash` last time (and records it).
    fn seen_before(&self, sender: &str, hash: u64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.insert(sender.to_string(), hash) == Some(hash)
    }

    /// Stops the gossip thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake();
    }
}

/// `MOVED slot ip:port`.
pub fn moved(slot: u16, node: &Node) -> String {
    format!("MOVED {slot} {}:{}", node.ip, node.port)
}

/// Whether the command's one key is its first argument (most commands): routing then reads it
/// without building a list of arguments.
fn single_key(spec: &Spec) -> bool {
    use crate::cmd::spec::{BeginSearch, FindKeys};
    match spec.key_specs {
        [only] => {
            matches!(only.begin_search, BeginSearch::Index(1))
                && matches!(only.find_keys, FindKeys::Range { lastkey: 0, .. })
        }
        _ => false,
    }
}

/// The keys of request `argv` (the name first), as routing sees them.
pub fn keys_of<'a>(spec: &Spec, argv: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let migrate = spec.command == crate::cmd::Command::Migrate;
    // Redis finds no key in `MIGRATE host port key ... KEYS ...`, an error `MIGRATE` itself
    // answers.
    if migrate && argv.get(3).is_some_and(|k| !k.is_empty()) && argv.len() > 6 {
        let keys_word = argv[6..].iter().any(|a| a.eq_ignore_ascii_case(b"keys"));
        if keys_word {
            return Vec::new();
        }
    }
    spec.keys_of(argv)
        .into_iter()
        .filter(|k| !k.flags.contains(&"not_key"))
        .map(|k| argv[k.pos])
        // `MIGRATE ... "" ... KEYS k ...`: the empty string stands for no key.
        .filter(|k| !(migrate && k.is_empty()))
        .collect()
}

/// Up to `count` keys of `slot` this node holds, by a visit of the table.
pub fn keys_in_slot(db: &Db, slot: u16, count: usize) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut buf = Vec::new();
    db.table.visit(|entry| {
        if keys.len() < count {
            let key = crate::db::entry_key(entry, &mut buf);
            if key_slot(key) == slot {
                keys.push(key.to_vec());
            }
        }
    });
    keys
}

/// How many keys of `slot` this node holds.
pub fn count_in_slot(db: &Db, slot: u16) -> usize {
    let mut count = 0;
    let mut buf = Vec::new();
    db.table.visit(|entry| {
        if key_slot(crate::db::entry_key(entry, &mut buf)) == slot {
            count += 1;
        }
    });
    count
}

/// A new node: a random id, no slots.
fn new_state(port: u16) -> State {
    let id: Arc<str> = Arc::from(crate::repl::new_replid());
    State::new(id, String::new(), port)
}

/// Writes the config file whole: a temporary file renamed over the old one, so a crash of the
/// process leaves the old file or the new one, never a part. It reaches the disk at the gossip
/// thread's next turn ([`sync`]), within a second: Redis too writes the file before it answers
/// a `CLUSTER SETSLOT` and leaves the syncing to the OS.
fn save(path: &Path, text: &str) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
    }
    std::fs::rename(&tmp, path)
}

/// Syncs the config file and its directory to the disk, so a power failure keeps what
/// [`save`] wrote.
fn sync(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::File::open(path)?.sync_all()?;
    std::fs::File::open(dir)?.sync_all()
}
