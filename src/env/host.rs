//! The machine this process runs on: its host name, recorded on entries and
//! presence so that readers can tell machines apart.

/// This machine's host name, or an empty string.
#[cfg(unix)]
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// This machine's host name (`COMPUTERNAME`, which Windows sets for every
/// process), or an empty string.
#[cfg(windows)]
pub fn host_name() -> String {
    std::env::var("COMPUTERNAME").unwrap_or_default()
}

/// Starts `cmd` detached from the hook: on Unix in its own process group, on
/// Windows in a new process group without a console, so it outlives
/// whatever ends the hook's group (Claude Code's timeout, Ctrl-C).
pub fn detach(cmd: &mut std::process::Command) -> &mut std::process::Command {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0)
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        use windows_sys::Win32::System::Threading::{CREATE_NEW_PROCESS_GROUP, DETACHED_PROCESS};
        cmd.creation_flags(CREATE_NEW_PROCESS_GROUP | DETACHED_PROCESS)
    }
}
