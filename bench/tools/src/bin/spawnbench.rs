//! Runs one command once and prints `<wall ns> <peak RSS KiB> <exit status>`.
//!
//! Usage: spawnbench STDIN_FILE STDOUT_FILE PROGRAM [ARGS...]
//! (`-` for STDIN_FILE means /dev/null.) The clock runs from just before the
//! fork to the return of wait4, like `hyperfine -N`; the peak RSS is the
//! child's `ru_maxrss` from the same wait4, like GNU time's `%M`. It exists
//! because a Python parent cannot report a child's peak RSS (the kernel
//! carries the parent's high-water mark into a forked/vforked child), while
//! this process is small (~1 MiB) and so adds only that floor.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::time::Instant;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: spawnbench STDIN_FILE STDOUT_FILE PROGRAM [ARGS...]");
        std::process::exit(2);
    }
    let cstr = |s: &std::ffi::OsStr| CString::new(s.as_bytes()).expect("no NUL in args");
    let stdin_path = if args[0] == "-" { cstr("/dev/null".as_ref()) } else { cstr(&args[0]) };
    let stdout_path = cstr(&args[1]);
    let argv: Vec<CString> = args[2..].iter().map(|a| cstr(a)).collect();
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    // Open the redirections before starting the clock.
    // SAFETY: valid NUL-terminated paths.
    let (fd_in, fd_out) = unsafe {
        (
            libc::open(stdin_path.as_ptr(), libc::O_RDONLY),
            libc::open(stdout_path.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644),
        )
    };
    if fd_in < 0 || fd_out < 0 {
        eprintln!("spawnbench: cannot open stdin/stdout files");
        std::process::exit(2);
    }
    let t0 = Instant::now();
    // SAFETY: the child only calls async-signal-safe functions before exec.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            libc::dup2(fd_in, 0);
            libc::dup2(fd_out, 1);
            libc::execvp(argv_p[0], argv_p.as_ptr());
            libc::_exit(127);
        }
    }
    if pid < 0 {
        eprintln!("spawnbench: fork failed");
        std::process::exit(2);
    }
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let ns = t0.elapsed().as_nanos();
    if r != pid {
        eprintln!("spawnbench: wait4 failed");
        std::process::exit(2);
    }
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    println!("{ns} {} {code}", ru.ru_maxrss);
}
