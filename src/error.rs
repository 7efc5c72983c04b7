//! The library's error type.
//!
//! Every error names what a person needs to act on it: the file, and where the
//! input is at fault, the line and the reason. Errors are typed so callers can
//! branch on them ([`ErrorKind`]); the human sentence is the `Display`. The
//! command line turns them into messages and exit codes; nothing in the
//! library prints.
//!
//! The kind is boxed so `Result<T>` stays one word wide on the hot paths that
//! return it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A `Result` whose error is the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of the library. See [`ErrorKind`] for the cases.
pub struct Error(Box<ErrorKind>);

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An I/O operation on a file or folder failed.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What was being done ("open", "write", "rename", ...).
        operation: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// `fsync` (or `syncfs`) failed. Never retried: after a failed sync the
    /// kernel may have dropped the dirty pages, so the only safe answer is to
    /// stop (the PostgreSQL "fsyncgate" lesson).
    Sync {
        /// The file or folder being made durable.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The input file has no header line.
    EmptyInput {
        /// The input file.
        path: PathBuf,
    },
    /// The header lacks required columns.
    MissingColumns {
        /// The input file.
        path: PathBuf,
        /// The required columns that were not found.
        missing: Vec<String>,
        /// The columns the header does have, in order.
        found: Vec<String>,
    },
    /// The header is malformed in another way (a duplicated column name, an
    /// unbalanced quote, invalid UTF-8).
    BadHeader {
        /// The input file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// A row broke a rule of the input format and the caller asked for strict
    /// handling (`--strict`), or a partition file holds a row that does not
    /// parse.
    BadRow {
        /// The file holding the row.
        path: PathBuf,
        /// 1-based line number; the header is line 1.
        line: u64,
        /// Why it was rejected.
        reason: String,
    },
    /// The registry log or snapshot is damaged in a way recovery must not
    /// paper over (a bad record in the middle of the log).
    RegistryCorrupt {
        /// The log or snapshot file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// `--resume` was asked for, but the inputs differ from the ones the
    /// registry recorded.
    InputsChanged {
        /// Which input changed and how.
        reason: String,
    },
    /// A new run was asked for in a folder that already holds a run.
    OutputInUse {
        /// The output folder.
        path: PathBuf,
    },
    /// Arguments that cannot work together, or a value out of range.
    Usage(String),
    /// Processing a partition failed; the message says why.
    Partition {
        /// The partition key, `YYYY-MM-DD/security_code`.
        key: String,
        /// Why it failed.
        reason: String,
    },
}

impl Error {
    /// The kind of error, to branch on.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// Consumes the error and returns its kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// An I/O error on `path` during `operation`.
    pub fn io(path: impl AsRef<Path>, operation: &'static str, source: io::Error) -> Error {
        ErrorKind::Io {
            path: path.as_ref().to_path_buf(),
            operation,
            source,
        }
        .into()
    }

    /// A failed sync of `path`.
    pub fn sync(path: impl AsRef<Path>, source: io::Error) -> Error {
        ErrorKind::Sync {
            path: path.as_ref().to_path_buf(),
            source,
        }
        .into()
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Error {
        ErrorKind::Usage(message.into()).into()
    }

    /// A bad row at `path:line`.
    pub fn bad_row(path: impl AsRef<Path>, line: u64, reason: impl fmt::Display) -> Error {
        ErrorKind::BadRow {
            path: path.as_ref().to_path_buf(),
            line,
            reason: reason.to_string(),
        }
        .into()
    }

    /// True when the error is a user or input mistake (exit code 2) rather
    /// than a failure of the machine or of a partition.
    pub fn is_usage_or_input(&self) -> bool {
        matches!(
            *self.0,
            ErrorKind::EmptyInput { .. }
                | ErrorKind::MissingColumns { .. }
                | ErrorKind::BadHeader { .. }
                | ErrorKind::BadRow { .. }
                | ErrorKind::InputsChanged { .. }
                | ErrorKind::OutputInUse { .. }
                | ErrorKind::Usage(_)
        )
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            ErrorKind::Io {
                path,
                operation,
                source,
            } => write!(f, "{}: {operation} failed: {source}", path.display()),
            ErrorKind::Sync { path, source } => write!(
                f,
                "{}: fsync failed: {source} (the data may not be on disk; the run stops)",
                path.display()
            ),
            ErrorKind::EmptyInput { path } => {
                write!(f, "{}: the file is empty (no header line)", path.display())
            }
            ErrorKind::MissingColumns {
                path,
                missing,
                found,
            } => write!(
                f,
                "{}: the header lacks required column(s) {}; columns found: {}",
                path.display(),
                missing.join(", "),
                found.join(", ")
            ),
            ErrorKind::BadHeader { path, reason } => {
                write!(f, "{}:1: bad header: {reason}", path.display())
            }
            ErrorKind::BadRow { path, line, reason } => {
                write!(f, "{}:{line}: {reason}", path.display())
            }
            ErrorKind::RegistryCorrupt { path, reason } => {
                write!(f, "{}: registry is corrupt: {reason}", path.display())
            }
            ErrorKind::InputsChanged { reason } => write!(
                f,
                "cannot resume: {reason}; run again with --force to start over"
            ),
            ErrorKind::OutputInUse { path } => write!(
                f,
                "{} already holds a run; use --resume to continue it or --force to start over",
                path.display()
            ),
            ErrorKind::Usage(message) => f.write_str(message),
            ErrorKind::Partition { key, reason } => write!(f, "partition {key}: {reason}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            ErrorKind::Io { source, .. } | ErrorKind::Sync { source, .. } => Some(source),
            _ => None,
        }
    }
}
