//! A backend-free bag of named tensors, as read from a checkpoint: raw little-endian bytes,
//! their dtype and shape. Conversions between formats copy the bytes untouched (bit-exact);
//! models read float views through [`TensorStore::f32`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::WeightsError;

/// Element type of a stored tensor (the subset PyTorch checkpoints and safetensors use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 | DType::I16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "F64",
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::I64 => "I64",
            DType::I32 => "I32",
            DType::I16 => "I16",
            DType::I8 => "I8",
            DType::U8 => "U8",
            DType::Bool => "BOOL",
        }
    }
}

/// One tensor: dtype, shape and its little-endian, row-major bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl StoredTensor {
    pub fn from_f32(shape: Vec<usize>, values: &[f32]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self {
            dtype: DType::F32,
            shape,
            bytes,
        }
    }

    /// Number of elements; saturates instead of overflowing on absurd shapes.
    pub fn numel(&self) -> usize {
        self.shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .unwrap_or(usize::MAX)
    }

    /// Whether the bytes hold exactly `numel × element size`.
    pub fn bytes_match_shape(&self) -> bool {
        self.numel().checked_mul(self.dtype.size()) == Some(self.bytes.len())
    }

    /// Values widened or narrowed to f32; `None` for integer and boolean tensors.
    pub fn to_f32(&self) -> Option<Vec<f32>> {
        let b = &self.bytes;
        Some(match self.dtype {
            DType::F32 => b
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            DType::F64 => b
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")) as f32)
                .collect(),
            DType::F16 => b
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::BF16 => b
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            _ => return None,
        })
    }
}

/// The elements of a strided view (`shape`, `stride` and `offset` in elements of `elem`
/// bytes) copied out of `data` in row-major order; `None` when one lies outside `data`.
pub fn strided_to_row_major(
    data: &[u8],
    shape: &[usize],
    stride: &[usize],
    offset: usize,
    elem: usize,
) -> Option<Vec<u8>> {
    let numel: usize = shape.iter().product();
    let mut bytes = Vec::with_capacity(numel * elem);
    if numel == 0 {
        return Some(bytes);
    }
    let mut index = vec![0usize; shape.len()];
    for _ in 0..numel {
        let at = offset + index.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>();
        bytes.extend_from_slice(data.get(at * elem..(at + 1) * elem)?);
        for d in (0..index.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    Some(bytes)
}

/// Named tensors plus string metadata, remembering the file they came from (for errors).
#[derive(Debug, Clone, Default)]
pub struct TensorStore {
    pub source: PathBuf,
    pub tensors: BTreeMap<String, StoredTensor>,
    pub metadata: BTreeMap<String, String>,
}

impl TensorStore {
    pub fn new(source: impl Into<PathBuf>) -> Self {
        Self {
            source: source.into(),
            ..Self::default()
        }
    }

    pub fn path(&self) -> &Path {
        &self.source
    }

    pub fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Result<&StoredTensor, WeightsError> {
        self.tensors
            .get(key)
            .ok_or_else(|| WeightsError::MissingKey {
                path: self.source.clone(),
                key: key.to_string(),
            })
    }

    pub fn shape(&self, key: &str) -> Result<&[usize], WeightsError> {
        Ok(&self.get(key)?.shape)
    }

    /// Float values of `key`, checked against `expected` shape.
    pub fn f32(&self, key: &str, expected: &[usize]) -> Result<Vec<f32>, WeightsError> {
        let t = self.get(key)?;
        if t.shape != expected {
            return Err(WeightsError::Shape {
                path: self.source.clone(),
                key: key.to_string(),
                expected: format!("{expected:?}"),
                actual: t.shape.clone(),
            });
        }
        if !t.bytes_match_shape() {
            return Err(WeightsError::Format {
                path: self.source.clone(),
                format: "tensor",
                reason: format!(
                    "tensor `{key}` of shape {:?} ({}) holds {} bytes",
                    t.shape,
                    t.dtype.name(),
                    t.bytes.len()
                ),
            });
        }
        t.to_f32().ok_or_else(|| WeightsError::DType {
            path: self.source.clone(),
            key: key.to_string(),
            dtype: t.dtype.name().to_string(),
        })
    }

    /// A shape error for `key` with a free-form description of what was expected.
    pub fn shape_error(&self, key: &str, expected: impl Into<String>) -> WeightsError {
        WeightsError::Shape {
            path: self.source.clone(),
            key: key.to_string(),
            expected: expected.into(),
            actual: self
                .tensors
                .get(key)
                .map(|t| t.shape.clone())
                .unwrap_or_default(),
        }
    }

    pub fn layout_error(&self, reason: impl Into<String>) -> WeightsError {
        WeightsError::Layout {
            path: self.source.clone(),
            reason: reason.into(),
        }
    }

    /// The tensors under `prefix` (e.g. `decoder.`), with the prefix removed.
    pub fn strip_prefix(&self, prefix: &str) -> TensorStore {
        TensorStore {
            source: self.source.clone(),
            tensors: self
                .tensors
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(prefix).map(|s| (s.to_string(), v.clone())))
                .collect(),
            metadata: self.metadata.clone(),
        }
    }

    /// A stable 64-bit FNV-1a digest of every key, dtype, shape and byte (hex): identifies a
    /// model's weights, e.g. so codes are never applied to another generator.
    pub fn content_hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        };
        for (k, t) in &self.tensors {
            feed(k.as_bytes());
            feed(t.dtype.name().as_bytes());
            for d in &t.shape {
                feed(&(*d as u64).to_le_bytes());
            }
            feed(&t.bytes);
        }
        format!("{h:016x}")
    }

    pub fn insert(&mut self, key: impl Into<String>, tensor: StoredTensor) {
        self.tensors.insert(key.into(), tensor);
    }

    pub fn insert_f32(&mut self, key: impl Into<String>, shape: Vec<usize>, values: &[f32]) {
        self.insert(key, StoredTensor::from_f32(shape, values));
    }
}
