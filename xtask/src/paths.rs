//! Where things live: the workspace, `target/`, and the services' state.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Paths used by the tasks.
pub(crate) struct Paths {
    /// The workspace root.
    pub(crate) root: PathBuf,
    /// Cargo's target directory.
    pub(crate) target: PathBuf,
    /// Databases' data, logs and the unpacked MariaDB.
    pub(crate) state: PathBuf,
    /// Unix sockets (short paths: socket paths are limited to ~100 bytes).
    pub(crate) sockets: PathBuf,
    /// The file the tests read the services' URLs from.
    pub(crate) env_file: PathBuf,
}

impl Paths {
    pub(crate) fn discover() -> Result<Self> {
        let root =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().context("xtask has no parent directory")?.to_path_buf();
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
        let target = if target.is_absolute() { target } else { root.join(target) };
        let tag = short_hash(&root.to_string_lossy());
        // The servers run as the `postgres` and `mysql` users when we are root; they must
        // be able to reach their data directories. When the checkout sits below a private
        // directory (e.g. /root), the data goes to a directory of its own under /tmp.
        let preferred = target.join("p8fs-services");
        let state = if crate::cmd::is_root() && !reachable_by_others(&target) {
            std::env::temp_dir().join(format!("p8fs-services-{tag}"))
        } else {
            preferred
        };
        let sockets = std::env::temp_dir().join(format!("p8fs-sock-{tag}"));
        let env_file = target.join("p8fs-services").join("services.env");
        Ok(Self { root, target, state, sockets, env_file })
    }
}

/// Whether every existing ancestor of `p` can be traversed by other users.
fn reachable_by_others(p: &Path) -> bool {
    p.ancestors()
        .filter(|a| a.exists())
        .all(|a| std::fs::metadata(a).map(|m| m.permissions().mode() & 0o001 != 0).unwrap_or(false))
}

/// FNV-1a of `s`, as 8 hex digits: a stable tag per checkout.
pub(crate) fn short_hash(s: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}
