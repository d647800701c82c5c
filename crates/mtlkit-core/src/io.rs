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
/// # Errors
/// [`Error::Io`] naming the path when the folder is missing or not writable, the disk is full, or
/// the rename fails.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
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

    #[test]
    fn missing_folder_is_an_error_and_writes_nothing() {
        let p = Path::new("/nonexistent-mtlkit-dir/sub/m.bin");
        let err = atomic_write(p, b"x").unwrap_err();
        assert!(matches!(err, Error::Io { .. }));
        assert!(!p.exists());
    }
}
