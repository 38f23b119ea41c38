//! The native format: safetensors, read into a [`TensorStore`] and written from one.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::{DType, StoredTensor, TensorStore, WeightsError};

const FORMAT: &str = "safetensors";

fn from_st_dtype(d: Dtype) -> Option<DType> {
    Some(match d {
        Dtype::F64 => DType::F64,
        Dtype::F32 => DType::F32,
        Dtype::F16 => DType::F16,
        Dtype::BF16 => DType::BF16,
        Dtype::I64 => DType::I64,
        Dtype::I32 => DType::I32,
        Dtype::I16 => DType::I16,
        Dtype::I8 => DType::I8,
        Dtype::U8 => DType::U8,
        Dtype::BOOL => DType::Bool,
        _ => return None,
    })
}

fn to_st_dtype(d: DType) -> Dtype {
    match d {
        DType::F64 => Dtype::F64,
        DType::F32 => Dtype::F32,
        DType::F16 => Dtype::F16,
        DType::BF16 => Dtype::BF16,
        DType::I64 => Dtype::I64,
        DType::I32 => Dtype::I32,
        DType::I16 => Dtype::I16,
        DType::I8 => Dtype::I8,
        DType::U8 => Dtype::U8,
        DType::Bool => Dtype::BOOL,
    }
}

/// Parses safetensors bytes; `path` only names the source in errors.
pub fn parse_safetensors(path: &Path, buffer: &[u8]) -> Result<TensorStore, WeightsError> {
    let format_err = |reason: String| WeightsError::Format {
        path: path.to_path_buf(),
        format: FORMAT,
        reason,
    };
    let (_, meta) = SafeTensors::read_metadata(buffer).map_err(|e| format_err(e.to_string()))?;
    let st = SafeTensors::deserialize(buffer).map_err(|e| format_err(e.to_string()))?;
    let mut store = TensorStore::new(path);
    if let Some(m) = meta.metadata() {
        store.metadata = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    }
    for (name, view) in st.tensors() {
        let dtype = from_st_dtype(view.dtype()).ok_or_else(|| {
            format_err(format!(
                "tensor `{name}` has unsupported dtype {:?}",
                view.dtype()
            ))
        })?;
        store.insert(
            name,
            StoredTensor {
                dtype,
                shape: view.shape().to_vec(),
                bytes: view.data().to_vec(),
            },
        );
    }
    Ok(store)
}

pub fn read_safetensors(path: &Path) -> Result<TensorStore, WeightsError> {
    let buffer = super::read_regular_file(path).map_err(|e| WeightsError::io(path, e))?;
    parse_safetensors(path, &buffer)
}

/// Writes every tensor of `store` (bytes untouched) with its metadata, atomically (a failed
/// write leaves the previous file intact).
pub fn write_safetensors(store: &TensorStore, path: &Path) -> Result<(), WeightsError> {
    let views = store
        .tensors
        .iter()
        .map(|(k, t)| {
            TensorView::new(to_st_dtype(t.dtype), t.shape.clone(), &t.bytes)
                .map(|v| (k.clone(), v))
                .map_err(|e| WeightsError::Format {
                    path: path.to_path_buf(),
                    format: FORMAT,
                    reason: format!("tensor `{k}`: {e}"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metadata: HashMap<String, String> = store.metadata.clone().into_iter().collect();
    let metadata = (!metadata.is_empty()).then_some(metadata);
    let bytes = safetensors::serialize(views, metadata).map_err(|e| WeightsError::Format {
        path: path.to_path_buf(),
        format: FORMAT,
        reason: e.to_string(),
    })?;
    crate::safe_write::write_atomically(path, &bytes).map_err(|error| WeightsError::Write {
        path: path.to_path_buf(),
        error,
    })
}
