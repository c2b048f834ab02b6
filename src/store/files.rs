//! The database's files on disk, created for their owner only: folders
//! 0700, the database and its WAL and shared-memory files 0600, whatever the umask.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the folders hopwatch creates.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of the database files hopwatch creates: they hold every check's
/// evidence and the alert history.
pub(crate) const FILE_MODE: u32 = 0o600;

/// SQLite's companions of a database in WAL mode.
const COMPANIONS: [&str; 2] = ["-wal", "-shm"];

/// Creates the folders missing on the way to `dir`, each 0700. Folders that
/// exist keep their mode: they are the operator's.
pub(crate) fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut missing: Vec<&Path> = Vec::new();
    let mut here = Some(dir);
    // Bounded by the depth of the path.
    while let Some(folder) = here.filter(|f| !f.as_os_str().is_empty()) {
        if folder.exists() {
            break;
        }
        missing.push(folder);
        here = folder.parent();
    }
    for folder in missing.iter().rev() {
        match DirBuilder::new().mode(DIR_MODE).create(folder) {
            // The umask may have taken bits off; set the mode itself, before
            // creating anything inside.
            Ok(()) => fs::set_permissions(folder, Permissions::from_mode(DIR_MODE))?,
            // Made meanwhile by someone else: theirs, like any existing folder.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Creates the database file, empty and 0600, unless it exists (SQLite
/// takes an empty file as a new database); tells whether it was created.
/// SQLite would create it with the umask's mode.
pub(crate) fn create_database(path: &Path) -> io::Result<bool> {
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path);
    match created {
        Ok(_) => {
            fs::set_permissions(path, Permissions::from_mode(FILE_MODE))?;
            Ok(true)
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(err),
    }
}

/// Sets the WAL and shared-memory files of a database hopwatch created to
/// 0600. SQLite gives them the database's mode already; this does not rely
/// on it, nor on no stale copy lying around from before.
pub(crate) fn restrict_companions(path: &Path) -> io::Result<()> {
    for companion in companions(path) {
        match fs::set_permissions(&companion, Permissions::from_mode(FILE_MODE)) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
    }
    Ok(())
}

/// `<db>-wal` and `<db>-shm`.
pub(crate) fn companions(path: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    COMPANIONS.iter().map(move |suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn missing_folders_are_created_owner_only_and_existing_ones_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::set_permissions(dir.path(), Permissions::from_mode(0o755)).expect("chmod");
        let deep = dir.path().join("a").join("b");
        create_dirs(&deep).expect("created");
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&deep), 0o700);
        assert_eq!(mode(dir.path()), 0o755, "an existing folder keeps its mode");
        create_dirs(&deep).expect("a second time is fine");
    }

    #[test]
    fn the_database_is_created_owner_only_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("hopwatch.db");
        assert!(create_database(&db).expect("created"));
        assert_eq!(mode(&db), 0o600);
        fs::set_permissions(&db, Permissions::from_mode(0o640)).expect("chmod");
        assert!(!create_database(&db).expect("exists"));
        assert_eq!(mode(&db), 0o640, "an existing database keeps its mode");
        let names: Vec<PathBuf> = companions(&db).collect();
        assert_eq!(
            names,
            [
                dir.path().join("hopwatch.db-wal"),
                dir.path().join("hopwatch.db-shm")
            ]
        );
    }
}
