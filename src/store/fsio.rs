//! How bytes reach disk and come back: private folders and files, atomic
//! whole-file rewrites, locked appends of whole lines, reading lines backwards
//! from the end of a file, and the bounded error log. The one place that
//! knows the operating system's file semantics: the rest of the crate asks
//! here for a file's identity, a positioned read or a private file.
//!
//! | guarantee | Unix | Windows |
//! | --- | --- | --- |
//! | private folder and files | mode 0700 / 0600 whatever the umask | created under the user's profile, whose ACL admits only the user, SYSTEM and Administrators |
//! | not someone else's | owner uid = euid, not writable by group or others | owner SID = this user's SID |
//! | no write through a link | `O_NOFOLLOW` | opened as the reparse point itself, then refused |
//! | exclusive append lock | std `File::lock` on the log | std `File::lock` on `<log>.lock` (Windows locks are mandatory: locking the log itself would fail readers) |
//! | atomic replace | `rename` | `rename` (`MoveFileExW` with `MOVEFILE_REPLACE_EXISTING`) |
//! | replaced-file detection | device and inode | volume serial and file index |

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Size of one backwards read, in bytes.
pub const REV_CHUNK: usize = 64 * 1024;
/// Longest line the backwards reader returns, in bytes; longer lines are skipped.
pub const MAX_LINE: usize = 1024 * 1024;
/// Size at which `errors.log` is rotated to `errors.log.1`, in bytes.
pub const ERROR_LOG_MAX: u64 = 256 * 1024;

/// Which file an open handle or a path is: stable while the file exists,
/// different for a file renamed into its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileKey {
    /// The device (Unix) or volume serial number (Windows).
    pub dev: u64,
    /// The inode (Unix) or file index (Windows).
    pub ino: u64,
}

/// The identity of an open file. Fails only when the system cannot stat it.
pub fn file_key(f: &File) -> io::Result<FileKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = f.metadata()?;
        Ok(FileKey {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
    #[cfg(windows)]
    {
        win::file_key(f)
    }
}

/// The identity of the file at `path` (following links). Fails when it is
/// missing or cannot be opened for reading (Windows needs a handle).
pub fn path_key(path: &Path) -> io::Result<FileKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        Ok(FileKey {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
    #[cfg(windows)]
    {
        win::file_key(&File::open(path)?)
    }
}

/// Reads up to `buf.len()` bytes at `offset`; 0 at the end of the file. On
/// Windows this also moves the handle's position (callers never mix it with
/// sequential reads; appends go to the end whatever the position).
pub fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(f, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(f, buf, offset)
    }
}

/// Reads exactly `buf.len()` bytes at `offset`; `UnexpectedEof` when the file
/// is shorter.
pub fn read_exact_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    while !buf.is_empty() {
        match read_at(f, buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Last modification time of `meta`, in epoch seconds (0 when unknown).
pub fn mtime(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The permission bits of `meta` (`Some(0o600)`), or `None` where the system
/// has none (Windows: access is the ACL's, see [`check_safe`]).
pub fn mode_bits(meta: &std::fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    }
    #[cfg(windows)]
    {
        let _ = meta;
        None
    }
}

/// Options that create a file private to this user (`mode` on Unix; the
/// folder's inherited ACL on Windows) and never open it through a link: on
/// Unix `O_NOFOLLOW` fails, on Windows the link itself is opened, which
/// [`check_safe`]-style callers then refuse as not a regular file.
pub fn private_options(mode: u32) -> OpenOptions {
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        let _ = mode;
        o.custom_flags(windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT);
    }
    o
}

/// Sets `mode` exactly on an open file (the umask filters the mode given at
/// creation). Nothing to do on Windows, where the ACL is inherited.
pub fn set_mode(f: &File, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(mode))
    }
    #[cfg(windows)]
    {
        let _ = (f, mode);
        Ok(())
    }
}

/// Opens `path` for reading only if it is a regular file, decided on the
/// open descriptor, so nothing can swap the file between a check and the
/// open. The open itself cannot block (`O_NONBLOCK`: a FIFO without a
/// writer returns at once) nor take a controlling terminal (`O_NOCTTY`);
/// `fstat` then refuses a FIFO, a socket, a device such as `/dev/zero` or
/// `/dev/urandom`, or a folder, with an [`io::ErrorKind::InvalidInput`]
/// error saying "not a regular file". `O_NONBLOCK` has no effect on reading
/// a regular file.
/// On Windows the open is a plain read-only open (it does not block on a
/// pipe name, and opens a folder only with backup semantics, which this does
/// not ask for), then the same check.
pub fn open_regular(path: &Path) -> io::Result<File> {
    open_regular_len(path).map(|(f, _)| f)
}

/// [`open_regular`], with the file's length then.
fn open_regular_len(path: &Path) -> io::Result<(File, u64)> {
    let mut o = OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let f = o.open(path)?;
    let meta = f.metadata()?;
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok((f, meta.len()));
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({})", kind_name(kind)),
    ))
}

#[cfg(windows)]
fn kind_name(kind: std::fs::FileType) -> &'static str {
    if kind.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

#[cfg(unix)]
fn kind_name(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

/// Reads at most `max` bytes of a regular file ([`open_regular`]).
pub fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let (f, len) = open_regular_len(path)?;
    // Sized from the file, as `std::fs::read` does, so that reading it
    // takes one read and no regrowth; one more byte to see the end.
    let size = len.min(max);
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
    f.take(max).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The whole lines among the last `max` bytes of a regular file
/// ([`open_regular`]), as text (invalid UTF-8 replaced): a first line cut by
/// the window is dropped. A missing file reads as empty.
pub fn read_tail(path: &Path, max: u64) -> io::Result<String> {
    let mut f = match open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let start = len.saturating_sub(max);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(max).read_to_end(&mut buf)?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if start > 0 {
        match text.find('\n') {
            Some(i) => {
                text.drain(..=i);
            }
            None => text.clear(),
        }
    }
    Ok(text)
}

/// Creates `dir` (and parents) with mode 0700 if missing, then checks that it
/// is a folder owned by this user and not writable by others.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(dir).map_err(|e| Error::io(dir, e))?;
        // The mode passed to mkdir is filtered by the umask; set it exactly.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(dir, e))?;
        }
    }
    check_safe(dir, true)
}

/// Refuses a path that is not of the expected kind, is owned by another user,
/// or is writable by its group or others (any of whom could then put words
/// in this user's sessions).
pub fn check_safe(path: &Path, want_dir: bool) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    let unsafe_ = |reason: &str| Error::Unsafe {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if meta.file_type().is_symlink() {
        // A symlinked pool folder is a legitimate setup; check its target.
        let target = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if want_dir && !target.is_dir() {
            return Err(unsafe_("is not a folder"));
        }
        if !want_dir {
            return Err(unsafe_("is a symbolic link; refusing to write through it"));
        }
        return check_owner_mode(&target, path);
    }
    if want_dir && !meta.is_dir() {
        return Err(unsafe_("is not a folder"));
    }
    if !want_dir && !meta.is_file() {
        return Err(unsafe_("is not a regular file"));
    }
    check_owner_mode(&meta, path)
}

#[cfg(unix)]
fn check_owner_mode(meta: &std::fs::Metadata, path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    // Root too: a pool another user can write would inject their text into
    // root's sessions.
    if meta.uid() != me {
        return Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: format!("is owned by uid {}, not by you (uid {me})", meta.uid()),
        });
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: "is writable by its group or others; run chmod go-w on it".into(),
        });
    }
    Ok(())
}

#[cfg(windows)]
fn check_owner_mode(_meta: &std::fs::Metadata, path: &Path) -> Result<()> {
    match win::owned_by_me(path) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: "is owned by another account, not by you".into(),
        }),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Opens `path` for appending, creating it with mode 0600. Refuses symlinks.
pub fn open_append(path: &Path) -> Result<File> {
    let f = private_options(0o600)
        .create(true)
        .append(true)
        .read(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let meta = f.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: "is not a regular file".into(),
        });
    }
    check_owner_mode(&meta, path)?;
    if meta.len() == 0 && mode_bits(&meta).is_some_and(|m| m & 0o777 != 0o600) {
        // Freshly created under an unusual umask: make it exactly 0600.
        set_mode(&f, 0o600).map_err(|e| Error::io(path, e))?;
    }
    Ok(f)
}

/// An exclusively locked append handle on a log file. The lock is released
/// when the value is dropped.
pub struct LockedLog {
    file: File,
    path: PathBuf,
    /// Windows: the locked `<log>.lock` file (see the module's table).
    #[cfg(windows)]
    _guard: File,
}

impl LockedLog {
    /// Opens and exclusively locks `path`. If the file was replaced (an
    /// archive rewrite renamed a new file into place) while we waited for the
    /// lock, it reopens the new one, so nothing is written to a dead inode.
    pub fn open(path: &Path) -> Result<Self> {
        // Windows byte-range locks are mandatory: a lock on the log itself
        // would make every reader's read fail while a writer holds it. So the
        // writers lock a sidecar file that is never replaced, and the log is
        // opened only once the lock is held.
        #[cfg(windows)]
        let guard = {
            let mut name = path.as_os_str().to_owned();
            name.push(".lock");
            let lock_path = PathBuf::from(name);
            let g = open_append(&lock_path)?;
            g.lock().map_err(|e| Error::io(&lock_path, e))?;
            g
        };
        for _ in 0..16 {
            let file = open_append(path)?;
            #[cfg(unix)]
            file.lock().map_err(|e| Error::io(path, e))?;
            let fd_key = file_key(&file).map_err(|e| Error::io(path, e))?;
            match path_key(path) {
                Ok(k) if k == fd_key => {
                    return Ok(LockedLog {
                        file,
                        path: path.to_path_buf(),
                        #[cfg(windows)]
                        _guard: guard,
                    });
                }
                _ => continue,
            }
        }
        Err(Error::io(
            path,
            io::Error::other("the file kept being replaced while waiting for its lock"),
        ))
    }

    /// The locked file, for reading under the lock.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends whole lines in one write. If the file does not end with a
    /// newline (a writer died mid-line), a newline is written first so the
    /// torn line cannot swallow this one.
    pub fn append(&mut self, lines: &[u8]) -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let len = self
            .file
            .metadata()
            .map_err(|e| Error::io(&self.path, e))?
            .len();
        let mut buf = Vec::with_capacity(lines.len() + 1);
        if len > 0 && !ends_with_newline(&self.file, len).map_err(|e| Error::io(&self.path, e))? {
            buf.push(b'\n');
        }
        buf.extend_from_slice(lines);
        if buf.last() != Some(&b'\n') {
            buf.push(b'\n');
        }
        if let Err(e) = (&self.file).write_all(&buf) {
            // A partial write (full disk): take back what we wrote, under
            // the lock, so no torn line of ours is left behind.
            let _ = self.file.set_len(len);
            return Err(Error::io(&self.path, e));
        }
        Ok(())
    }

    /// Flushes the file's data to disk.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }
}

fn ends_with_newline(f: &File, len: u64) -> io::Result<bool> {
    let mut b = [0u8; 1];
    read_exact_at(f, &mut b, len - 1)?;
    Ok(b[0] == b'\n')
}

/// Creates `path` for writing, mode 0600, failing if anything (a file, a
/// symbolic link, even a dangling one) is already there: `O_CREAT|O_EXCL`
/// with `O_NOFOLLOW` (Windows: `CREATE_NEW`, which fails on any existing
/// name, a link included), so a planted name is never written through.
pub fn create_new_private(path: &Path) -> Result<File> {
    private_options(0o600)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Flushes a folder's entries (a rename into it) to disk; best effort.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `bytes` to `path` atomically: a temp file in the same folder, fsync,
/// rename over the target, fsync of the folder. The temp file is removed on
/// failure. The new file gets `mode`.
pub fn atomic_write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_by_rename(path, bytes, mode, true)
}

/// Replaces `path` with `bytes` by a temp file and a rename, without fsync:
/// readers see the old or the new content, never a mix, but a power cut may
/// lose the update. For derived state that is rebuilt when missing (cursors,
/// presence, news marks), where two fsyncs (several ms) would dominate a
/// hook's cost. The temp file is removed on failure.
pub fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_by_rename(path, bytes, mode, false)
}

fn write_by_rename(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per process and per call, so two threads never share a temp file.
    let tmp = dir.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> io::Result<()> {
        let mut f = private_options(mode)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        set_mode(&f, mode)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if durable && let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Reads a file's lines from the end towards the start, in chunks, holding at
/// most one line (bounded by [`MAX_LINE`]) plus one chunk in memory.
pub struct RevLines<R> {
    r: R,
    /// File offset of `buf[0]`.
    pos: u64,
    buf: Vec<u8>,
    /// Bytes of `buf` not yet returned; `buf[..end]` ends at a line boundary.
    end: usize,
    /// Inside an over-long line whose start has not been reached yet.
    skipping: bool,
    /// Lines longer than [`MAX_LINE`] that were skipped.
    pub overlong: u64,
}

impl<R: Read + Seek> RevLines<R> {
    /// Starts reading backwards from byte offset `end` of `r` (usually its
    /// length). A final line without a newline is returned like the others.
    pub fn new(r: R, end: u64) -> Self {
        RevLines {
            r,
            pos: end,
            buf: Vec::new(),
            end: 0,
            skipping: false,
            overlong: 0,
        }
    }

    /// The next line towards the start of the file, without its newline,
    /// with the offset where it starts; `None` at the start of the file.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        loop {
            let content_end = if self.end > 0 && self.buf[self.end - 1] == b'\n' {
                self.end - 1
            } else {
                self.end
            };
            if let Some(i) = memchr::memrchr(b'\n', &self.buf[..content_end]) {
                self.end = i + 1;
                if self.skipping || content_end - (i + 1) > MAX_LINE {
                    self.skipping = false;
                    self.overlong += 1;
                    continue;
                }
                let off = self.pos + i as u64 + 1;
                return Ok(Some((off, &self.buf[i + 1..content_end])));
            }
            if self.pos == 0 {
                if self.end == 0 {
                    return Ok(None);
                }
                self.end = 0;
                if self.skipping || content_end > MAX_LINE {
                    self.skipping = false;
                    self.overlong += 1;
                    return Ok(None);
                }
                return Ok(Some((0, &self.buf[..content_end])));
            }
            if content_end > MAX_LINE {
                // Drop what we hold of this line and skip to its start.
                self.skipping = true;
                self.end = 0;
            }
            let n = REV_CHUNK.min(self.pos as usize);
            let start = self.pos - n as u64;
            // Reuse the buffer: shift what we hold right, read the chunk in
            // front of it. It grows only while one line spans chunks.
            let total = n + self.end;
            if self.buf.len() < total {
                self.buf.resize(total, 0);
            }
            self.buf.copy_within(0..self.end, n);
            self.r.seek(SeekFrom::Start(start))?;
            self.r.read_exact(&mut self.buf[..n])?;
            self.end = total;
            self.pos = start;
        }
    }
}

/// Appends one line to the bounded error log in `dir`, rotating it to
/// `errors.log.1` past [`ERROR_LOG_MAX`]. Returns whether the line was
/// written (a full disk or an unusable folder can prevent it).
pub fn log_error(dir: &Path, program: &str, message: &str) -> bool {
    let path = dir.join(crate::store::paths::ERROR_LOG);
    if std::fs::metadata(&path)
        .map(|m| m.len() > ERROR_LOG_MAX)
        .unwrap_or(false)
    {
        let _ = std::fs::rename(&path, dir.join("errors.log.1"));
    }
    let one_line: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(2000)
        .collect();
    let line = format!(
        "{} {program}: {one_line}\n",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    match open_append(&path) {
        Ok(mut f) => f.write_all(line.as_bytes()).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_keeps_whole_lines_and_a_missing_file_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("log");
        assert_eq!(read_tail(&p, 10).unwrap(), "");
        std::fs::write(&p, "first line\nsecond\nthird\n").unwrap();
        assert_eq!(read_tail(&p, 100).unwrap(), "first line\nsecond\nthird\n");
        assert_eq!(read_tail(&p, 10).unwrap(), "third\n", "the cut line goes");
        assert_eq!(read_tail(&p, 3).unwrap(), "", "no whole line in the window");
    }
    use std::io::Cursor;

    fn rev(data: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut r = RevLines::new(Cursor::new(data.to_vec()), data.len() as u64);
        let mut out = Vec::new();
        while let Some((o, l)) = r.next_line().unwrap() {
            out.push((o, l.to_vec()));
        }
        out
    }

    #[test]
    fn reads_lines_backwards() {
        assert_eq!(
            rev(b"a\nbb\nccc\n"),
            vec![
                (5, b"ccc".to_vec()),
                (2, b"bb".to_vec()),
                (0, b"a".to_vec())
            ]
        );
        assert_eq!(rev(b"a\nb"), vec![(2, b"b".to_vec()), (0, b"a".to_vec())]);
        assert!(rev(b"").is_empty());
        assert_eq!(rev(b"\n\n"), vec![(1, vec![]), (0, vec![])]);
    }

    #[test]
    fn lines_across_chunks() {
        let mut data = Vec::new();
        for i in 0..20_000 {
            data.extend_from_slice(format!("line {i} {}\n", "x".repeat(i % 50)).as_bytes());
        }
        let got = rev(&data);
        assert_eq!(got.len(), 20_000);
        assert_eq!(
            got[0].1,
            format!("line 19999 {}", "x".repeat(19_999 % 50)).as_bytes()
        );
        let last = &got[19_999];
        assert_eq!(last.0, 0);
        for (o, l) in &got {
            assert_eq!(&data[*o as usize..*o as usize + l.len()], &l[..]);
        }
    }

    #[cfg(unix)] // FIFOs, /dev/zero
    #[test]
    fn only_regular_files_are_opened_and_never_block() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("f");
        std::fs::write(&f, b"data").unwrap();
        assert_eq!(read_regular(&f, 2).unwrap(), b"da");
        let fifo = tmp.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        for p in [
            fifo.as_path(),
            Path::new("/dev/zero"),
            Path::new("/dev/urandom"),
            tmp.path(),
        ] {
            let e = open_regular(p).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{}", p.display());
            assert!(e.to_string().starts_with("not a regular file"), "{e}");
        }
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(open_regular(&link).is_err());
    }

    #[test]
    fn skips_overlong_lines() {
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        data.extend_from_slice(b"\nlast\n");
        let mut r = RevLines::new(Cursor::new(data.clone()), data.len() as u64);
        let mut got = Vec::new();
        while let Some((_, l)) = r.next_line().unwrap() {
            got.push(l.to_vec());
        }
        assert!(
            got == vec![b"last".to_vec(), b"first".to_vec()],
            "got {} lines",
            got.len()
        );
        assert_eq!(r.overlong, 1);
    }

    #[test]
    fn append_repairs_a_torn_line() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("log");
        std::fs::write(&p, b"{\"a\":1}\n{\"torn\":").unwrap();
        let mut l = LockedLog::open(&p).unwrap();
        l.append(b"{\"b\":2}\n").unwrap();
        drop(l);
        assert_eq!(
            std::fs::read(&p).unwrap(),
            b"{\"a\":1}\n{\"torn\":\n{\"b\":2}\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn private_modes_whatever_the_umask() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("pool");
        ensure_private_dir(&d).unwrap();
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        let f = d.join("f");
        drop(open_append(&f).unwrap());
        assert_eq!(std::fs::metadata(&f).unwrap().mode() & 0o777, 0o600);
        atomic_write(&d.join("g"), b"x", 0o600).unwrap();
        assert_eq!(
            std::fs::metadata(d.join("g")).unwrap().mode() & 0o777,
            0o600
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_world_writable_and_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("pool");
        ensure_private_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(ensure_private_dir(&d), Err(Error::Unsafe { .. })));
        let target = tmp.path().join("t");
        std::fs::write(&target, b"").unwrap();
        std::os::unix::fs::symlink(&target, tmp.path().join("link")).unwrap();
        assert!(open_append(&tmp.path().join("link")).is_err());
    }
}

/// The Windows calls behind [`file_key`] and the owner check.
#[cfg(windows)]
mod win {
    use super::FileKey;
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
    use windows_sys::Win32::Security::Authorization::{GetNamedSecurityInfoW, SE_FILE_OBJECT};
    use windows_sys::Win32::Security::{
        EqualSid, GetTokenInformation, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
        TOKEN_QUERY, TOKEN_USER, TokenUser,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, GetFileInformationByHandle,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    /// Volume serial number and file index of an open file.
    pub fn file_key(f: &std::fs::File) -> io::Result<FileKey> {
        // SAFETY: all-zero is a valid BY_HANDLE_FILE_INFORMATION (plain integers).
        let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: the handle is open for the life of `f`; `info` is a valid out-pointer.
        let ok = unsafe { GetFileInformationByHandle(f.as_raw_handle() as HANDLE, &mut info) };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(FileKey {
            dev: u64::from(info.dwVolumeSerialNumber),
            ino: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        })
    }

    /// Whether the owner SID of `path` is this process's user SID.
    pub fn owned_by_me(path: &Path) -> io::Result<bool> {
        let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
        let mut owner: PSID = std::ptr::null_mut();
        let mut sd: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; the out-pointers are valid; `sd`
        // is freed with LocalFree below, and `owner` points into it.
        let rc = unsafe {
            GetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                OWNER_SECURITY_INFORMATION,
                &mut owner,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut sd,
            )
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc as i32));
        }
        let result = with_user_sid(|me| {
            // SAFETY: both SIDs are valid for the duration of this call.
            unsafe { EqualSid(owner, me) != 0 }
        });
        // SAFETY: `sd` was allocated by GetNamedSecurityInfoW.
        unsafe { LocalFree(sd as _) };
        result
    }

    fn with_user_sid<T>(f: impl FnOnce(PSID) -> T) -> io::Result<T> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: GetCurrentProcess returns a pseudo-handle; `token` is a valid out-pointer.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // TOKEN_USER plus the SID it points to; 256 bytes hold any SID.
        let mut buf = vec![0u64; 64];
        let mut len = 0u32;
        // SAFETY: `buf` is valid for its byte length and aligned for TOKEN_USER.
        let ok = unsafe {
            GetTokenInformation(
                token,
                TokenUser,
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                &mut len,
            )
        };
        let err = io::Error::last_os_error();
        // SAFETY: `token` was opened above.
        unsafe { CloseHandle(token) };
        if ok == 0 {
            return Err(err);
        }
        // SAFETY: GetTokenInformation filled `buf` with a TOKEN_USER.
        let user = unsafe { &*(buf.as_ptr().cast::<TOKEN_USER>()) };
        Ok(f(user.User.Sid))
    }
}
