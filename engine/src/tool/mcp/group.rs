//! A stdio server's process group (the server leads its own, so ending the group ends whatever
//! it started too: `npx` starts node, which may start more), and how it is ended: SIGTERM, a
//! moment, then SIGKILL, then a wait until no member is left.
//!
//! A group is only ever signalled while it is still ours. Its id is its leader's pid; once the
//! leader has been reaped and every member has gone, the number may be given to a new process,
//! which could lead a group of its own. So the leader's start time (`/proc/PID/stat`, field 22)
//! is noted at spawn: the group is ours while a process with that pid and that start time exists
//! (a zombie counts), or, with no process of that pid, while a member is left (the kernel gives
//! no process a pid that is still a group's id).

use std::process::Stdio;
use std::time::Duration;

/// How long a group has to end after SIGTERM, and after SIGKILL.
const AFTER_TERM: Duration = Duration::from_millis(500);
const AFTER_KILL: Duration = Duration::from_millis(700);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    pgid: u32,
    /// The leader's start time in clock ticks since boot, where `/proc` tells it.
    started: Option<u64>,
}

impl Group {
    /// The group `leader` (just spawned as a group leader) leads.
    pub fn led_by(leader: u32) -> Group {
        Group {
            pgid: leader,
            started: proc_stat(leader).and_then(|s| s.start_time),
        }
    }

    pub fn id(&self) -> u32 {
        self.pgid
    }

    /// Whether signalling the group reaches our processes and only ours. `held`: the caller
    /// still holds the leader's process handle, so the leader has not been reaped (where `/proc`
    /// cannot tell, that is the only case in which the group is known to be ours).
    fn is_ours(&self, held: bool) -> bool {
        if !proc_available() {
            return held;
        }
        match proc_stat(self.pgid) {
            Some(leader) => self.started.is_some() && leader.start_time == self.started,
            None => members_left(self.pgid),
        }
    }

    /// Ends the group: SIGTERM, then SIGKILL to whatever is left, then waits until no member is
    /// left (within 1.2 s in all). Does nothing to a group that is not ours.
    pub async fn end(&self, held: bool) {
        if !self.is_ours(held) {
            return;
        }
        signal(self.pgid, "-TERM").await;
        if self.gone_within(AFTER_TERM).await || !self.is_ours(held) {
            return;
        }
        signal(self.pgid, "-KILL").await;
        self.gone_within(AFTER_KILL).await;
    }

    async fn gone_within(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if !members_left(self.pgid) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn signal(pgid: u32, which: &str) {
    if cfg!(unix) {
        let _ = tokio::process::Command::new("kill")
            .args([which, "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
}

fn proc_available() -> bool {
    std::path::Path::new("/proc/self/stat").exists()
}

/// The fields of `/proc/PID/stat` this needs.
struct Stat {
    zombie: bool,
    pgrp: Option<u32>,
    start_time: Option<u64>,
}

fn proc_stat(pid: u32) -> Option<Stat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(parse_stat(&stat))
}

/// After the command's closing bracket come field 3 (state), 4 (ppid), 5 (pgrp) … 22 (start
/// time).
fn parse_stat(stat: &str) -> Stat {
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    Stat {
        zombie: fields.first().is_none_or(|s| *s == "Z" || *s == "X"),
        pgrp: fields.get(2).and_then(|f| f.parse().ok()),
        start_time: fields.get(19).and_then(|f| f.parse().ok()),
    }
}

/// Whether a live (not zombie) process is in the group `pgid`. Where there is no `/proc`, the
/// group counts as gone once signalled.
fn members_left(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        e.file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
            .and_then(proc_stat)
            .is_some_and(|s| !s.zombie && s.pgrp == Some(pgid))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_even_with_brackets_in_it() {
        let line = "4242 (node (x) y) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 11 0 \
                    987654 1000 100 18446744073709551615";
        let s = parse_stat(line);
        assert!(!s.zombie);
        assert_eq!(s.pgrp, Some(4242));
        assert_eq!(s.start_time, Some(987654));
        assert!(parse_stat("7 (sh) Z 1 7 7").zombie);
    }

    #[test]
    fn a_group_whose_leader_has_another_start_time_is_not_ours() {
        if !proc_available() {
            return;
        }
        let me = std::process::id();
        let mine = Group::led_by(me);
        assert!(mine.started.is_some());
        let reused = Group {
            pgid: me,
            started: mine.started.map(|t| t + 1),
        };
        assert!(!reused.is_ours(true), "a pid given to another process");
    }
}
