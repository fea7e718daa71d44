//! Claude Code's own registry of live sessions: one file per running client,
//! `<config dir>/sessions/<pid>.json`, written when the client starts and
//! removed when it exits. Seen in 2.1.329, 2.1.332 and 2.1.334
//! (`tests/e2e/registry.sh`), with fields such as
//! `{"pid":20429,"sessionId":"86af…","cwd":"/w/proj","procStart":"1237696",
//! "pidDomain":"linux:<machine id>:pid:[<pid namespace>]","status":"busy",
//! "messagingSocketPath":"…/cc-socks/20429.sock",…}`.
//!
//! Presence ([`crate::coord::presence`]) uses it to tell a session that
//! still runs from one that is gone, instead of guessing from how long ago
//! its last hook ran: a session killed without `SessionEnd` is gone at once,
//! and one left open over lunch stays live and wakeable.
//!
//! Everything here is read-only and bounded: only a regular file named
//! `<digits>.json` directly in a folder named `sessions`, at most
//! [`MAX_FILE`] bytes, is read. A record proves liveness only when it names
//! the same session and, on Linux, the process it names runs with the start
//! time the record gives, in this machine's and this pid namespace's
//! `pidDomain`; otherwise the answer is [`Alive::Unknown`] and callers fall
//! back to hook times.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::store::fsio;

/// Largest registry file read, in bytes (real ones are about 600).
pub const MAX_FILE: u64 = 16 * 1024;
/// The registry folder's name, inside Claude Code's config folder.
pub const SESSIONS_DIR: &str = "sessions";

/// The fields of one registry file the pool uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The client's process id.
    pub pid: u32,
    /// Its session id.
    pub session_id: String,
    /// The process's start time, as `/proc/<pid>/stat` field 22 (clock ticks since boot).
    pub proc_start: Option<String>,
    /// `linux:<machine id>:pid:[<pid namespace inode>]`.
    pub pid_domain: Option<String>,
    /// `busy`, `idle`, … as the client last said.
    pub status: Option<String>,
}

/// What a registry says of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alive {
    /// The registry lists the session and its process runs.
    Yes,
    /// The registry no longer lists it (the client exited), or the process
    /// it names is not the one that wrote it.
    No,
    /// Nothing can be told (no registry path, another machine or pid
    /// namespace, an unreadable file): fall back to hook times.
    Unknown,
}

/// The registry file a session's client keeps, given Claude Code's config
/// folder and the session's inbox socket (`…/cc-socks/<pid>.sock`, whose
/// name carries the client's pid). `None` when the socket does not name a pid.
pub fn path_for(config_dir: &Path, socket: &str) -> Option<PathBuf> {
    let pid = pid_of_socket(socket)?;
    Some(config_dir.join(SESSIONS_DIR).join(format!("{pid}.json")))
}

/// The pid in an inbox socket's file name `<pid>.sock`.
pub fn pid_of_socket(socket: &str) -> Option<u32> {
    let name = Path::new(socket).file_name()?.to_str()?;
    let digits = name.strip_suffix(".sock")?;
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|p| *p > 0)
}

/// Whether `path` has the shape of a registry file: `…/sessions/<digits>.json`.
pub fn is_registry_path(path: &Path) -> bool {
    let parent_ok = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == SESSIONS_DIR);
    let name_ok = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".json"))
        .is_some_and(|d| !d.is_empty() && d.len() <= 10 && d.bytes().all(|b| b.is_ascii_digit()));
    parent_ok && name_ok
}

/// Parses a registry file's bytes; `None` when they are not a record (no
/// pid or no session id).
pub fn parse(bytes: &[u8]) -> Option<Record> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let o = v.as_object()?;
    let pid = o.get("pid")?.as_u64().and_then(|p| u32::try_from(p).ok())?;
    let text = |k: &str| {
        o.get(k)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .map(str::to_string)
    };
    let session_id = text("sessionId")?;
    // `procStart` is a string in the files seen; accept a number too.
    let proc_start = text("procStart").or_else(|| {
        o.get("procStart")
            .and_then(serde_json::Value::as_u64)
            .map(|n| n.to_string())
    });
    Some(Record {
        pid,
        session_id,
        proc_start,
        pid_domain: text("pidDomain"),
        status: text("status"),
    })
}

/// Reads the registry file at `path`: `Ok(None)` when it does not exist; an
/// error when the path is not a registry file's, or the file cannot be read,
/// is too large or is not a record.
pub fn read(path: &Path) -> io::Result<Option<Record>> {
    if !is_registry_path(path) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a registry path",
        ));
    }
    let f = match fsio::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut buf = Vec::new();
    f.take(MAX_FILE + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "too large"));
    }
    parse(&buf)
        .map(Some)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a session record"))
}

/// What this machine can tell of one process id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcStart {
    /// A process runs with this start time (`/proc/<pid>/stat` field 22).
    Started(String),
    /// No process has this id.
    NoSuchProcess,
    /// It cannot be told (not Linux, `/proc` unreadable).
    Unknown,
}

/// What this machine knows of its processes, for [`judge`]: passed in so the
/// decision is pure and testable.
pub trait Procs {
    /// This machine's and pid namespace's `pidDomain`, if it can be told.
    fn domain(&self) -> Option<String>;
    /// The start time of process `pid`.
    fn start_time(&self, pid: u32) -> ProcStart;
}

/// The decision: given what the registry file held (`None`: no such file)
/// for a session, and this machine's processes.
pub fn judge(session_id: &str, record: Option<&Record>, procs: &dyn Procs) -> Alive {
    let Some(r) = record else {
        // The file is removed on exit; the client that had this pid is gone.
        return Alive::No;
    };
    if r.session_id != session_id {
        // The pid was reused by another client (or a resumed session).
        return Alive::No;
    }
    let (Some(want), Some(domain)) = (r.proc_start.as_deref(), r.pid_domain.as_deref()) else {
        return Alive::Unknown;
    };
    if procs.domain().as_deref() != Some(domain) {
        return Alive::Unknown;
    }
    match procs.start_time(r.pid) {
        ProcStart::Started(start) if start == want => Alive::Yes,
        ProcStart::Started(_) | ProcStart::NoSuchProcess => Alive::No,
        ProcStart::Unknown => Alive::Unknown,
    }
}

/// The session's liveness from the registry file at `path`.
pub fn alive(path: &Path, session_id: &str) -> Alive {
    match read(path) {
        Ok(rec) => judge(session_id, rec.as_ref(), &ThisMachine),
        Err(_) => Alive::Unknown,
    }
}

/// The running machine, read from `/proc` (Linux only; elsewhere nothing can
/// be told and every answer is [`Alive::Unknown`] unless the file is gone).
pub struct ThisMachine;

impl Procs for ThisMachine {
    fn domain(&self) -> Option<String> {
        // Read once per process: a listing asks for every session.
        static DOMAIN: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        DOMAIN
            .get_or_init(|| {
                if !cfg!(target_os = "linux") {
                    return None;
                }
                let id = small_file("/etc/machine-id")?;
                let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
                Some(format!("linux:{}:{}", id.trim(), ns.to_string_lossy()))
            })
            .clone()
    }

    fn start_time(&self, pid: u32) -> ProcStart {
        if !cfg!(target_os = "linux") {
            return ProcStart::Unknown;
        }
        let path = format!("/proc/{pid}/stat");
        match std::fs::read(&path) {
            Ok(bytes) => match stat_start_time(&String::from_utf8_lossy(&bytes)) {
                Some(t) => ProcStart::Started(t),
                None => ProcStart::Unknown,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => ProcStart::NoSuchProcess,
            Err(_) => ProcStart::Unknown,
        }
    }
}

fn small_file(path: &str) -> Option<String> {
    let f = fsio::open_regular(Path::new(path)).ok()?;
    let mut s = String::new();
    f.take(256).read_to_string(&mut s).ok()?;
    Some(s)
}

/// Field 22 (`starttime`) of a `/proc/<pid>/stat` line. The command name
/// (field 2) is in parentheses and may hold spaces or `)`, so fields are
/// counted after the last `)`.
pub fn stat_start_time(stat: &str) -> Option<String> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ')' come field 3 (state) onwards: starttime is the 20th of them.
    rest.split_ascii_whitespace()
        .nth(19)
        .filter(|f| f.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = r#"{"pid":20429,"sessionId":"86af026d-78f8-463d-9568-006ee86fa318","cwd":"/tmp/reg.hmeK/proj","startedAt":1796302249271,"procStart":"1237696","version":"2.1.329","peerProtocol":1,"peerFeatures":["notify_idle","reply_across_default_dirs","artifact_yield"],"kind":"interactive","entrypoint":"sdk-cli","pidDomain":"linux:3d1219c7c4c5404aaa1f6d2a48adfda4:pid:[4026531836]","asksForConvertedSkills":null,"messagingSocketPath":"/tmp/reg.hmeK/tmp/cc-socks/20429.sock","name":"proj-66","nameSource":"derived","nameSince":1796302249271,"status":"busy","updatedAt":1796302249199,"statusUpdatedAt":1796302249199}"#;
    const DOMAIN: &str = "linux:3d1219c7c4c5404aaa1f6d2a48adfda4:pid:[4026531836]";
    const SID: &str = "86af026d-78f8-463d-9568-006ee86fa318";

    struct Fake {
        domain: Option<&'static str>,
        start: ProcStart,
    }
    impl Procs for Fake {
        fn domain(&self) -> Option<String> {
            self.domain.map(str::to_string)
        }
        fn start_time(&self, _pid: u32) -> ProcStart {
            self.start.clone()
        }
    }
    fn started(t: &str) -> ProcStart {
        ProcStart::Started(t.into())
    }

    #[test]
    fn parses_a_real_record() {
        let r = parse(REAL.as_bytes()).unwrap();
        assert_eq!(r.pid, 20429);
        assert_eq!(r.session_id, SID);
        assert_eq!(r.proc_start.as_deref(), Some("1237696"));
        assert_eq!(r.pid_domain.as_deref(), Some(DOMAIN));
        assert_eq!(r.status.as_deref(), Some("busy"));
        assert_eq!(parse(b"{\"pid\":1}"), None);
        assert_eq!(parse(b"[]"), None);
        assert_eq!(parse(b"{\"pid\":-1,\"sessionId\":\"x\"}"), None);
    }

    #[test]
    fn judges_liveness() {
        let r = parse(REAL.as_bytes()).unwrap();
        let live = Fake {
            domain: Some(DOMAIN),
            start: started("1237696"),
        };
        assert_eq!(judge(SID, Some(&r), &live), Alive::Yes);
        assert_eq!(judge(SID, None, &live), Alive::No, "file removed on exit");
        assert_eq!(judge("other", Some(&r), &live), Alive::No, "pid reused");
        let reused = Fake {
            domain: Some(DOMAIN),
            start: started("99"),
        };
        assert_eq!(judge(SID, Some(&r), &reused), Alive::No);
        let dead = Fake {
            domain: Some(DOMAIN),
            start: ProcStart::NoSuchProcess,
        };
        assert_eq!(judge(SID, Some(&r), &dead), Alive::No, "killed, file left");
        let elsewhere = Fake {
            domain: Some("linux:other:pid:[1]"),
            start: started("1237696"),
        };
        assert_eq!(judge(SID, Some(&r), &elsewhere), Alive::Unknown);
        let blind = Fake {
            domain: Some(DOMAIN),
            start: ProcStart::Unknown,
        };
        assert_eq!(judge(SID, Some(&r), &blind), Alive::Unknown);
    }

    #[test]
    fn socket_and_path_shapes() {
        assert_eq!(pid_of_socket("/tmp/x/cc-socks/20429.sock"), Some(20429));
        assert_eq!(pid_of_socket("/tmp/x/cc-socks/a.sock"), None);
        assert_eq!(pid_of_socket("/tmp/x/cc-socks/0.sock"), None);
        assert_eq!(pid_of_socket("/tmp/x/20429"), None);
        assert_eq!(
            path_for(Path::new("/c"), "/t/cc-socks/7.sock"),
            Some(PathBuf::from("/c/sessions/7.json"))
        );
        assert!(is_registry_path(Path::new("/c/sessions/7.json")));
        assert!(!is_registry_path(Path::new("/c/sessions/7.key")));
        assert!(!is_registry_path(Path::new("/etc/passwd")));
        assert!(!is_registry_path(Path::new("/c/other/7.json")));
    }

    #[test]
    fn stat_start_time_counts_after_the_name() {
        let stat = "22606 (claude) S 22605 22605 13765 0 -1 4194304 34202 701 0 0 49 10 0 0 20 0 8 0 1241548 5875036160 51888";
        assert_eq!(stat_start_time(stat).as_deref(), Some("1241548"));
        let odd = "5 (a) b) c) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0";
        assert_eq!(stat_start_time(odd).as_deref(), Some("777"));
        assert_eq!(stat_start_time("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_alive_by_its_own_record() {
        let m = ThisMachine;
        let pid = std::process::id();
        let ProcStart::Started(start) = m.start_time(pid) else {
            panic!("no start time for this process");
        };
        let rec = Record {
            pid,
            session_id: "s".into(),
            proc_start: Some(start),
            pid_domain: m.domain(),
            status: None,
        };
        assert_eq!(judge("s", Some(&rec), &m), Alive::Yes);
    }
}
