//! Shared file IO.

use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// Write `bytes` to `path` atomically: into a temporary file in the same folder, flushed and
/// synced, then renamed over `path`.
///
/// A failure at any step leaves `path` as it was (absent or with its old content) and removes
/// the temporary file, so a half-written file never appears under `path`.
///
/// A symbolic link at `path` is followed: the file it points to is replaced and the link stays.
/// An existing `path` that is not a regular file (a folder, a device such as `/dev/null`, a
/// FIFO, a socket) is refused rather than replaced.
///
/// # Errors
/// [`Error::Io`] naming the path when the folder is missing or not writable, the disk is full,
/// the rename fails, or `path` exists and is not a regular file.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let resolved = follow_links(path);
    let path = resolved.as_path();
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
    {
        return Err(Error::Io {
            operation: "writing",
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "exists and is not a regular file (a folder, device, FIFO or socket): not replaced",
            ),
        });
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let io_err = |source| Error::Io {
        operation: "writing",
        path: path.to_path_buf(),
        source,
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".mtlkit-").suffix(".tmp");
    // the permissions of a file created the usual way (0o666 less the umask), not the
    // temporary file's private 0o600
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io_err)?;
    tmp.write_all(bytes).map_err(io_err)?;
    tmp.as_file().sync_all().map_err(io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

/// `path` with its symbolic links followed (up to 40 of them, as the kernel does), also when
/// the last one dangles (its target is then the file to create); `path` itself otherwise.
fn follow_links(path: &Path) -> std::path::PathBuf {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(&p) {
                Ok(target) if target.is_absolute() => p = target,
                Ok(target) => {
                    p = p
                        .parent()
                        .map_or_else(|| target.clone(), |dir| dir.join(&target));
                }
                Err(_) => break,
            },
            _ => break,
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn written_files_get_the_usual_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let plain = dir.path().join("plain.json");
        std::fs::write(&plain, b"{}").expect("write");
        let atomic = dir.path().join("atomic.json");
        atomic_write(&atomic, b"{}").expect("atomic write");
        // what a plainly created file gets (0o666 less the umask), not a temporary file's 0o600
        assert_eq!(mode(&atomic), mode(&plain));
    }

    #[test]
    fn writes_and_replaces() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io {
            operation: "creating",
            path: ".".into(),
            source: e,
        })?;
        let p = dir.path().join("m.bin");
        atomic_write(&p, b"one")?;
        atomic_write(&p, b"two")?;
        assert_eq!(std::fs::read(&p).ok().as_deref(), Some(&b"two"[..]));
        // only the target remains: no temporary files left behind
        assert_eq!(
            std::fs::read_dir(dir.path()).map(|d| d.count()).ok(),
            Some(1)
        );
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn a_link_is_followed_and_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target.bin");
        std::fs::write(&target, b"old").expect("write");
        let link = dir.path().join("link.bin");
        std::os::unix::fs::symlink("target.bin", &link).expect("symlink");
        atomic_write(&link, b"new").expect("write through the link");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("metadata")
                .file_type()
                .is_symlink(),
            "the link was replaced by a file"
        );
        assert_eq!(std::fs::read(&target).expect("read"), b"new");
        // a dangling link: its target is created
        let dangling = dir.path().join("dangling.bin");
        std::os::unix::fs::symlink("created.bin", &dangling).expect("symlink");
        atomic_write(&dangling, b"x").expect("write through a dangling link");
        assert_eq!(
            std::fs::read(dir.path().join("created.bin")).expect("read"),
            b"x"
        );
    }

    #[test]
    fn a_folder_is_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).expect("mkdir");
        let err = atomic_write(&sub, b"x").unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(sub.is_dir());
        // (a device or FIFO takes the same check, `!is_file()`: not tried here, where a
        // regression would replace a system device)
    }

    #[test]
    fn missing_folder_is_an_error_and_writes_nothing() {
        let p = Path::new("/nonexistent-mtlkit-dir/sub/m.bin");
        let err = atomic_write(p, b"x").unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(!p.exists());
    }
}
