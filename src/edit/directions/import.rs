//! Published direction files: InterFaceGAN boundaries (`.npy` in W or per-layer w+, or a
//! PyTorch tensor) and GANSpace PCA (`.pt` dict with `comp`, `mean`, `std`).

use std::path::Path;

use super::set::{Direction, DirectionError, DirectionInfo};
use crate::weights::{self, DType, StoredTensor, WeightsError};

fn format_err(path: &Path, reason: impl Into<String>) -> WeightsError {
    WeightsError::Format {
        path: path.to_path_buf(),
        format: "NumPy .npy",
        reason: reason.into(),
    }
}

/// Reads a float32/float64 `.npy` array (either byte order, C or Fortran order) as a
/// little-endian row-major tensor. Object arrays (pickled Python objects) are refused.
pub fn read_npy(path: &Path) -> Result<StoredTensor, WeightsError> {
    let bytes = std::fs::read(path).map_err(|e| WeightsError::io(path, e))?;
    if !bytes.starts_with(b"\x93NUMPY") || bytes.len() < 10 {
        return Err(format_err(path, "missing the \\x93NUMPY magic"));
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize,
            12,
        ),
        v => return Err(format_err(path, format!("unsupported .npy version {v}"))),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start.saturating_add(header_len))
            .ok_or_else(|| format_err(path, "truncated header"))?,
    )
    .map_err(|_| format_err(path, "header is not text"))?;
    let field = |name: &str| {
        header
            .split(&format!("'{name}':"))
            .nth(1)
            .map(str::trim)
            .ok_or_else(|| format_err(path, format!("header has no `{name}`")))
    };
    let descr = field("descr")?;
    let (dtype, big_endian) = match descr.get(..5).unwrap_or(descr) {
        "'<f4'" => (DType::F32, false),
        "'>f4'" => (DType::F32, true),
        "'<f8'" => (DType::F64, false),
        "'>f8'" => (DType::F64, true),
        d if d.starts_with("'|O") => {
            return Err(format_err(
                path,
                "an object array (pickled Python objects) is never loaded; save the boundary as float32",
            ));
        }
        _ => {
            return Err(format_err(
                path,
                format!(
                    "dtype {} (only float32/float64)",
                    descr.split(',').next().unwrap_or(descr)
                ),
            ));
        }
    };
    let fortran = field("fortran_order")?.starts_with("True");
    let shape_text = field("shape")?;
    let inner = shape_text
        .trim_start_matches('(')
        .split(')')
        .next()
        .unwrap_or("");
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>().map_err(|_| {
                format_err(
                    path,
                    format!("bad shape {}", shape_text.split(')').next().unwrap_or("")),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let data = &bytes[start + header_len..];
    let expected = shape
        .iter()
        .try_fold(dtype.size(), |n, &d| n.checked_mul(d))
        .ok_or_else(|| format_err(path, format!("shape {shape:?} overflows")))?;
    if data.len() != expected {
        return Err(format_err(
            path,
            format!(
                "{} data bytes for shape {shape:?}, expected {expected}",
                data.len()
            ),
        ));
    }
    let size = dtype.size();
    let mut out = data.to_vec();
    if big_endian {
        out.chunks_exact_mut(size).for_each(<[u8]>::reverse);
    }
    if fortran && shape.len() > 1 {
        // column-major: the first index varies fastest
        let stride: Vec<usize> = shape
            .iter()
            .scan(1, |s, &n| {
                let here = *s;
                *s *= n;
                Some(here)
            })
            .collect();
        out = weights::strided_to_row_major(&out, &shape, &stride, 0, size)
            .ok_or_else(|| format_err(path, "Fortran-ordered data does not fit its shape"))?;
    }
    Ok(StoredTensor {
        dtype,
        shape,
        bytes: out,
    })
}

fn name_from(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    stem.trim_end_matches("_boundary").to_lowercase()
}

/// An InterFaceGAN boundary: `[1, S]` / `[S]` in W, or `[1, L·S]` per layer. `style_dim` tells
/// which: a length that is neither S nor a multiple of S is refused.
pub fn import_interfacegan(
    path: &Path,
    name: Option<&str>,
    style_dim: usize,
) -> Result<Direction, DirectionError> {
    let t = if path.extension().is_some_and(|e| e == "npy") {
        read_npy(path)?
    } else {
        let st = weights::read_checkpoint(path)?;
        let mut tensors = st.tensors.into_values();
        match (tensors.next(), tensors.next()) {
            (Some(t), None) => t,
            _ => return Err(format_err(path, "expected a file holding exactly one tensor").into()),
        }
    };
    let vector = t
        .to_f32()
        .ok_or_else(|| format_err(path, "not a float tensor"))?;
    if vector.len() % style_dim != 0 {
        return Err(DirectionError::Mismatch(format!(
            "{}: {} values do not fit style dim {style_dim} (this boundary belongs to another generator)",
            path.display(),
            vector.len()
        )));
    }
    let layers = vector.len() / style_dim;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Direction {
        info: DirectionInfo {
            name: name.map(str::to_string).unwrap_or_else(|| name_from(path)),
            // A W direction moves every layer; the set's n_latent bounds it on insertion.
            layers: 0..if layers == 1 { usize::MAX } else { layers },
            range: (-3.0, 3.0),
            source: format!("InterFaceGAN {file}"),
        },
        vector,
    })
}

/// GANSpace PCA components `comp` `[K, 1, S]` scaled by their `std` `[K]` (so the slider is in
/// standard deviations), applied to every layer unless narrowed.
pub fn import_ganspace(path: &Path, count: usize) -> Result<Vec<Direction>, DirectionError> {
    let st = weights::read_checkpoint(path)?;
    let comp = st.get("comp")?;
    let k = comp.shape.first().copied().unwrap_or(0);
    let s = comp.numel() / k.max(1);
    let values = st.f32("comp", &comp.shape.clone())?;
    let std = st.f32("std", &[k])?;
    Ok((0..k.min(count))
        .map(|i| Direction {
            info: DirectionInfo {
                name: format!("ganspace {i}"),
                layers: 0..usize::MAX,
                range: (-3.0, 3.0),
                source: format!("GANSpace PCA component {i} ({})", path.display()),
            },
            vector: values[i * s..(i + 1) * s]
                .iter()
                .map(|v| v * std[i])
                .collect(),
        })
        .collect())
}
