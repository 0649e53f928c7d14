//! `INFO [section ...]`: the server's state as Redis 7.0 reports it, in `# Section` headers and
//! `field:value` lines, sections and fields in Redis's order.
//!
//! A field is reported only where kv has what it measures, with kv's own figure; fields Redis
//! reports of machinery kv does not have (its allocator's internals, forks, Lua, replication
//! backlogs, peaks nobody tracks) are left out rather than made up. Where kv has none of a thing
//! Redis counts (blocked clients, replicas, modules, cluster), the field says so with Redis's
//! value for none. A few fields of kv's own follow Redis's in their section (`kv_version`, the
//! table's pages and segments, `aof_fsync`).

use super::server::{bytes_to_human, REDIS_VERSION};
use crate::db::Db;
use crate::reply::Out;
use kv_nostd::resp::Args;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::UNIX_EPOCH;

/// Every section, in Redis's order, and whether `INFO` with no argument (`default`) shows it.
const SECTIONS: &[(&str, bool)] = &[
    ("Server", true),
    ("Clients", true),
    ("Memory", true),
    ("Persistence", true),
    ("Stats", true),
    ("Replication", true),
    ("CPU", true),
    ("Modules", true),
    ("Commandstats", false),
    ("Errorstats", true),
    ("Latencystats", false),
    ("Cluster", true),
    ("Keyspace", true),
];

/// Which sections the arguments ask for: the named ones, `default` (also no argument), `all`
/// or `everything` (every section; kv has no module sections to tell them apart). Unknown names
/// ask for nothing.
fn wanted(args: Args<'_>) -> Vec<bool> {
    let mut wanted = vec![false; SECTIONS.len()];
    let mut any = false;
    for arg in args {
        any = true;
        let is = |name: &str| arg.eq_ignore_ascii_case(name.as_bytes());
        for (want, (name, default)) in wanted.iter_mut().zip(SECTIONS) {
            if is(name) || is("all") || is("everything") || (*default && is("default")) {
                *want = true;
            }
        }
    }
    if !any {
        for (want, (_, default)) in wanted.iter_mut().zip(SECTIONS) {
            *want = *default;
        }
    }
    wanted
}

/// `INFO [section ...]`: a bulk string in RESP2, a verbatim string in RESP3.
pub fn info(args: Args<'_>, db: &Db, out: &mut Out) {
    let mut text = String::new();
    for (want, (name, _)) in wanted(args).into_iter().zip(SECTIONS) {
        if !want {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let _ = write!(text, "# {name}\r\n");
        section(name, db, &mut text);
    }
    out.verbatim(text.as_bytes());
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Appends the fields of section `name`.
fn section(name: &str, db: &Db, text: &mut String) {
    match name {
        "Server" => server(db, text),
        "Clients" => clients(db, text),
        "Memory" => memory(db, text),
        "Persistence" => persistence(db, text),
        "Stats" => stats(db, text),
        "Replication" => replication(db, text),
        "CPU" => cpu(text),
        "Commandstats" => text.push_str(&db.commands.info()),
        "Errorstats" => text.push_str(&db.errors.info()),
        "Latencystats" => text.push_str(&db.commands.latency_info()),
        "Cluster" => text.push_str(if db.cluster.is_some() {
            "cluster_enabled:1\r\n"
        } else {
            "cluster_enabled:0\r\n"
        }),
        "Keyspace" => keyspace(db, text),
        _ => {}
    }
}

/// Appends `name:value\r\n` for each pair.
fn fields(text: &mut String, pairs: &[(&str, &dyn std::fmt::Display)]) {
    for (name, value) in pairs {
        let _ = write!(text, "{name}:{value}\r\n");
    }
}

/// The kernel's name, release and machine, as Redis's `os` field gives them (`uname`).
fn os() -> String {
    // SAFETY: `utsname` is plain bytes, for which all zeroes is a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uname` writes into the valid, exclusively borrowed `uts`.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {}",
        field(&uts.sysname),
        field(&uts.release),
        field(&uts.machine)
    )
}

fn server(db: &Db, text: &mut String) {
    let uptime = db.started.elapsed().as_secs();
    let executable = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let config_file = db
        .launch
        .get()
        .and_then(|c| c.config_file.as_ref())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    fields(
        text,
        &[
            ("redis_version", &REDIS_VERSION),
            ("kv_version", &env!("CARGO_PKG_VERSION")),
            ("redis_mode", &"standalone"),
            ("os", &os()),
            ("arch_bits", &usize::BITS),
            ("monotonic_clock", &"POSIX clock_gettime"),
            (
                "multiplexing_api",
                &db.io_loop.get().copied().unwrap_or("epoll"),
            ),
            ("process_id", &std::process::id()),
            ("run_id", &db.run_ids[0]),
            ("tcp_port", &db.port),
            ("server_time_usec", &crate::db::unix_us()),
            ("uptime_in_seconds", &uptime),
            ("uptime_in_days", &(uptime / 86_400)),
            ("executable", &executable),
            ("config_file", &config_file),
        ],
    );
}

fn clients(db: &Db, text: &mut String) {
    fields(
        text,
        &[
            (
                "connected_clients",
                &db.stats.connected_clients.load(Ordering::Relaxed),
            ),
            ("cluster_connections", &0),
            ("maxclients", &db.settings.max_clients()),
            ("blocked_clients", &0),
            ("tracking_clients", &0),
            ("clients_in_timeout_table", &0),
        ],
    );
}

/// This process's resident memory, from `/proc/self/statm` where there is one.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: `sysconf` reads a system value and has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// The machine's memory.
fn system_memory() -> u64 {
    // SAFETY: `sysconf` reads a system value and has no preconditions.
    let pages = unsafe { libc::sysconf(libc::_SC_PHYS_PAGES) };
    // SAFETY: as above.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(pages.max(0)).unwrap_or(0) * u64::try_from(page.max(0)).unwrap_or(0)
}

fn memory(db: &Db, text: &mut String) {
    let rss = resident_bytes().unwrap_or(0);
    let used = db.table.used_bytes() as u64;
    let max = db.table.max_memory().unwrap_or(0) as u64;
    let system = system_memory();
    let table = db.table.stats();
    let ratio = if used > 0 {
        rss as f64 / used as f64
    } else {
        0.0
    };
    fields(
        text,
        &[
            ("used_memory", &used),
            ("used_memory_human", &bytes_to_human(used)),
            ("used_memory_rss", &rss),
            ("used_memory_rss_human", &bytes_to_human(rss)),
            ("used_memory_dataset", &used),
            ("total_system_memory", &system),
            ("total_system_memory_human", &bytes_to_human(system)),
            ("maxmemory", &max),
            ("maxmemory_human", &bytes_to_human(max)),
            ("maxmemory_policy", &db.table.eviction().policy.name()),
            ("mem_fragmentation_ratio", &format!("{ratio:.2}")),
            ("mem_fragmentation_bytes", &(rss as i128 - used as i128)),
            ("mem_allocator", &"libc"),
            ("arena_pages_in_use", &table.pages_in_use),
            ("arena_page_bytes", &table.page_bytes),
            ("index_segments", &table.segments),
            ("index_segment_bytes", &table.segment_bytes),
        ],
    );
}

fn persistence(db: &Db, text: &mut String) {
    let Some(p) = &db.persist else {
        let started = db
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        fields(
            text,
            &[
                ("loading", &loading(db)),
                ("async_loading", &0),
                ("rdb_changes_since_last_save", &0),
                ("rdb_bgsave_in_progress", &0),
                ("rdb_last_save_time", &started),
                ("aof_enabled", &0),
            ],
        );
        return;
    };
    let write_status = if p.log().failure().is_some() {
        "err"
    } else {
        "ok"
    };
    fields(
        text,
        &[
            ("loading", &loading(db)),
            ("async_loading", &0),
            ("rdb_changes_since_last_save", &p.dirty()),
            ("rdb_bgsave_in_progress", &u8::from(p.bgsave_running())),
            ("rdb_last_save_time", &p.lastsave()),
            ("aof_enabled", &1),
            ("aof_last_write_status", &write_status),
            ("aof_fsync", &p.options().fsync.name()),
        ],
    );
}

fn stats(db: &Db, text: &mut String) {
    let s = &db.stats;
    fields(
        text,
        &[
            ("total_connections_received", &load(&s.total_connections)),
            ("total_commands_processed", &load(&s.total_commands)),
            ("total_net_input_bytes", &load(&s.net_input_bytes)),
            ("total_net_output_bytes", &load(&s.net_output_bytes)),
            ("rejected_connections", &load(&s.rejected_connections)),
            ("sync_full", &load(&db.repl.sync_full)),
            ("sync_partial_ok", &load(&db.repl.sync_partial_ok)),
            ("sync_partial_err", &load(&db.repl.sync_partial_err)),
            ("expired_keys", &db.expired_keys()),
            (
                "expired_stale_perc",
                &format!("{:.2}", f64::from_bits(load(&s.expired_stale_perc))),
            ),
            (
                "expired_time_cap_reached_count",
                &load(&s.expired_time_cap_reached),
            ),
            ("evicted_keys", &db.evicted_keys()),
            ("keyspace_hits", &load(&s.keyspace_hits)),
            ("keyspace_misses", &load(&s.keyspace_misses)),
            (
                "pubsub_channels",
                &db.pubsub.len(crate::pubsub::Space::Channels),
            ),
            (
                "pubsub_patterns",
                &db.pubsub.len(crate::pubsub::Space::Patterns),
            ),
            (
                "pubsubshard_channels",
                &db.pubsub.len(crate::pubsub::Space::Shards),
            ),
            ("total_error_replies", &db.errors.total()),
            (
                "client_output_buffer_limit_disconnections",
                &(load(&s.output_limit_disconnections)
                    + load(&db.pubsub.limit_disconnections)
                    + load(&db.monitors.limit_disconnections)),
            ),
        ],
    );
}

fn loading(db: &Db) -> u8 {
    u8::from(db.repl.loading.load(std::sync::atomic::Ordering::Acquire))
}

/// The replication section, field for field as Redis 7.0 prints it (R70 `server.c`
/// `genRedisInfoString`): Sentinel and tools parse it.
fn replication(db: &Db, text: &mut String) {
    let repl = &db.repl;
    let offset = repl.backlog.end();
    match repl.following() {
        Some((addr, link)) => {
            let status = link.status();
            let up = status.phase == crate::repl::replica::Phase::Connected;
            let syncing = status.phase == crate::repl::replica::Phase::Sync;
            fields(
                text,
                &[
                    ("role", &"slave"),
                    ("master_host", &addr.host),
                    ("master_port", &addr.port),
                    ("master_link_status", &if up { "up" } else { "down" }),
                    (
                        "master_last_io_seconds_ago",
                        &if up {
                            status.last_io.elapsed().as_secs() as i64
                        } else {
                            -1
                        },
                    ),
                    ("master_sync_in_progress", &u8::from(syncing)),
                    ("slave_read_repl_offset", &offset),
                    ("slave_repl_offset", &offset),
                ],
            );
            if syncing {
                let total = status.sync_total.map_or(-1, |t| t as i64);
                let left = status
                    .sync_total
                    .map_or(-1, |t| t.saturating_sub(status.sync_read) as i64);
                let perc = match status.sync_total {
                    Some(t) if t > 0 => status.sync_read as f64 * 100.0 / t as f64,
                    _ => 0.0,
                };
                fields(
                    text,
                    &[
                        ("master_sync_total_bytes", &total),
                        ("master_sync_read_bytes", &status.sync_read),
                        ("master_sync_left_bytes", &left),
                        ("master_sync_perc", &format!("{perc:.2}")),
                        (
                            "master_sync_last_io_seconds_ago",
                            &status.last_io.elapsed().as_secs(),
                        ),
                    ],
                );
            }
            if !up {
                let down = match status.down_since {
                    Some(t) => t.elapsed().as_secs() as i64,
                    None if status.ever_up => 0,
                    None => -1,
                };
                fields(text, &[("master_link_down_since_seconds", &down)]);
            }
            let settings = repl.settings();
            fields(
                text,
                &[
                    ("slave_priority", &settings.priority),
                    ("slave_read_only", &1),
                    ("replica_announced", &1),
                ],
            );
        }
        None => fields(text, &[("role", &"master")]),
    }
    let replicas: Vec<_> = repl
        .replicas
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    fields(text, &[("connected_slaves", &replicas.len())]);
    let settings = repl.settings();
    if settings.min_replicas > 0 && !repl.is_replica() {
        fields(
            text,
            &[(
                "min_slaves_good_slaves",
                &repl.good_replicas(settings.min_replicas_max_lag),
            )],
        );
    }
    for (i, r) in replicas.iter().enumerate() {
        let state = match r.state() {
            crate::repl::primary::State::WaitBgsave => "wait_bgsave",
            crate::repl::primary::State::SendBulk => "send_bulk",
            crate::repl::primary::State::Online => "online",
        };
        let lag = if r.is_online() {
            r.ack_age().as_secs()
        } else {
            0
        };
        let _ = write!(
            text,
            "slave{i}:ip={},port={},state={state},offset={},lag={lag}\r\n",
            r.ip(),
            r.hello.listening_port,
            r.ack()
        );
    }
    let ids = repl.ids();
    let (first, histlen) = repl.backlog.held();
    let active = repl.backlog.is_active();
    fields(
        text,
        &[
            ("master_failover_state", &"no-failover"),
            ("master_replid", &ids.replid),
            ("master_replid2", &ids.replid2),
            ("master_repl_offset", &offset),
            ("second_repl_offset", &ids.second_offset),
            ("repl_backlog_active", &u8::from(active)),
            ("repl_backlog_size", &repl.backlog.size()),
            (
                "repl_backlog_first_byte_offset",
                &if active { first } else { 0 },
            ),
            ("repl_backlog_histlen", &if active { histlen } else { 0 }),
        ],
    );
}

/// CPU time, as Redis prints it: seconds with six decimals.
fn cpu(text: &mut String) {
    let usage = |who| {
        // SAFETY: `rusage` is plain numbers, for which all zeroes is a valid value.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `getrusage` writes into the valid, exclusively borrowed `r`.
        unsafe { libc::getrusage(who, &mut r) };
        let secs = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
        (secs(r.ru_stime), secs(r.ru_utime))
    };
    let (sys, user) = usage(libc::RUSAGE_SELF);
    let (sys_children, user_children) = usage(libc::RUSAGE_CHILDREN);
    fields(
        text,
        &[
            ("used_cpu_sys", &sys),
            ("used_cpu_user", &user),
            ("used_cpu_sys_children", &sys_children),
            ("used_cpu_user_children", &user_children),
        ],
    );
}

fn keyspace(db: &Db, text: &mut String) {
    let keys = db.table.len();
    if keys > 0 {
        let _ = write!(
            text,
            "db0:keys={keys},expires={},avg_ttl={}\r\n",
            db.table.expires(),
            average_ttl(db)
        );
    }
}

/// The keyspace line's `avg_ttl`: the mean time to live, in milliseconds, of a sample of the
/// keys with a deadline (0 when none has one), as Redis estimates it from the keys its expiry
/// cycle samples. The sample is up to 16 index segments from a position that changes with the
/// time of the call.
fn average_ttl(db: &Db) -> u64 {
    if db.table.expires() == 0 {
        return 0;
    }
    let now = db.table.now();
    let (mut sum, mut n) = (0u128, 0u128);
    let nanos = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut cursor = kv_nostd::ScanCursor::from_u64(u64::from(nanos.reverse_bits()));
    let mut wrapped = false;
    for _ in 0..16 {
        cursor = db.table.scan(cursor, 1, |e| {
            if let Some(d) = e.deadline() {
                sum += u128::from(d.saturating_sub(now));
                n += 1;
            }
        });
        // The end of the index before a key with a deadline was met: the sample goes on from
        // its start (a small index may hold them all before the position drawn).
        if n >= 100 || (cursor.is_start() && (n > 0 || wrapped)) {
            break;
        }
        wrapped |= cursor.is_start();
    }
    u64::try_from(sum.checked_div(n).unwrap_or(0)).unwrap_or(u64::MAX)
}
