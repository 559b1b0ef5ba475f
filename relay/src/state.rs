//! The per-wiki position (the last change handled) in a small JSON file, `{"rcid": 123, "timestamp":
//! "2026-11-21T23:05:33Z"}`, replaced atomically: a temporary file in the same directory, fsync, rename, fsync
//! of the directory. A crash leaves the old file or the new one, never half of one.

use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub rcid: u64,
    /// ISO 8601 in UTC as api.php prints it (YYYY-MM-DDTHH:MM:SSZ).
    pub timestamp: String,
}

/// The saved position; Ok(None) when the file does not exist.
pub fn load(path: &Path) -> Result<Option<Position>, String> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read state file {}: {e}", path.display())),
    };
    let pos: Position = serde_json::from_str(&text).map_err(|e| {
        format!(
            "state file {} is not {{\"rcid\": N, \"timestamp\": \"...Z\"}}: {e}",
            path.display()
        )
    })?;
    if !is_api_timestamp(&pos.timestamp) {
        return Err(format!(
            "state file {}: timestamp {:?} is not YYYY-MM-DDTHH:MM:SSZ",
            path.display(),
            pos.timestamp
        ));
    }
    Ok(Some(pos))
}

/// Replaces the file with `pos` atomically.
pub fn save(path: &Path, pos: &Position) -> Result<(), String> {
    let fail = |what: &str, e: std::io::Error| {
        format!("cannot save state file {}: {what}: {e}", path.display())
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("state file {} has no file name", path.display()))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    let text =
        serde_json::to_string(pos).map_err(|e| format!("cannot encode the state: {e}"))? + "\n";
    let mut file = fs::File::create(&tmp).map_err(|e| fail("create temporary file", e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| fail("write", e))?;
    file.sync_all().map_err(|e| fail("fsync", e))?;
    drop(file);
    fs::rename(&tmp, path).map_err(|e| fail("rename", e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail("fsync directory", e))
}

/// YYYY-MM-DDTHH:MM:SSZ, the only form api.php prints (and the only one whose string order is time order).
pub fn is_api_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rcemit-state-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_and_missing() {
        let d = dir("rt");
        let path = d.join("wiki.json");
        assert_eq!(load(&path), Ok(None));
        let pos = Position {
            rcid: 42,
            timestamp: "2026-11-21T23:05:33Z".into(),
        };
        save(&path, &pos).unwrap();
        assert_eq!(load(&path), Ok(Some(pos.clone())));
        let next = Position { rcid: 43, ..pos };
        save(&path, &next).unwrap();
        assert_eq!(load(&path), Ok(Some(next)));
        assert_eq!(
            fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file left behind"
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn garbled_files_are_clear_errors() {
        let d = dir("bad");
        let path = d.join("wiki.json");
        for text in [
            "",
            "{",
            "[]",
            "{\"rcid\": -1, \"timestamp\": \"2026-11-21T23:05:33Z\"}",
            "{\"rcid\": 1}",
            "{\"rcid\": 1, \"timestamp\": \"2026-11-21 23:05:33\"}",
            "{\"rcid\": 1, \"timestamp\": \"2026-11-21T23:05:33Z\", \"extra\": 1}",
        ] {
            fs::write(&path, text).unwrap();
            let err = load(&path).unwrap_err();
            assert!(err.contains("wiki.json"), "{err}");
        }
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn timestamps() {
        assert!(is_api_timestamp("2026-11-21T23:05:33Z"));
        assert!(!is_api_timestamp("2026-11-21T23:05:33"));
        assert!(!is_api_timestamp("20261121230533"));
        assert!(!is_api_timestamp("2026-11-21T23:05:3xZ"));
    }
}
