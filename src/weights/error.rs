//! Errors of weight loading: every one names the file and, where it applies, the tensor key.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    // the io error is part of the one-line message, not a `source` (printed twice otherwise)
    #[error("{path}: cannot read file: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: cannot write file: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: not a valid {format} file: {reason}")]
    Format {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    #[error("{path}: missing tensor `{key}`")]
    MissingKey { path: PathBuf, key: String },
    #[error("{path}: tensor `{key}` has shape {actual:?}, expected {expected}")]
    Shape {
        path: PathBuf,
        key: String,
        expected: String,
        actual: Vec<usize>,
    },
    #[error("{path}: tensor `{key}` has dtype {dtype}, which cannot be used as float")]
    DType {
        path: PathBuf,
        key: String,
        dtype: String,
    },
    #[error(
        "{path}: refusing to load: the pickle needs `{global}`, which is not a tensor or a plain container (pickle code is never executed)"
    )]
    UnsafePickle { path: PathBuf, global: String },
    #[error("{path}: {reason}")]
    Layout { path: PathBuf, reason: String },
}

impl WeightsError {
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }
}
