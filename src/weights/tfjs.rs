//! TensorFlow.js weights (`*-weights_manifest.json` + binary shards), as published with
//! face-api: float32 or uint8-quantized (`value = q · scale + min`) tensors in shard order.

use std::path::Path;

use serde::Deserialize;

use super::{DType, StoredTensor, TensorStore, WeightsError};

#[derive(Deserialize)]
struct Group {
    paths: Vec<String>,
    weights: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
}

#[derive(Deserialize)]
struct Quantization {
    dtype: String,
    scale: f32,
    min: f32,
}

/// Reads every tensor of a TF.js manifest as f32 (dequantized), names and shapes as published.
pub fn read_tfjs(manifest: &Path) -> Result<TensorStore, WeightsError> {
    let fail = |reason: String| WeightsError::Format {
        path: manifest.to_path_buf(),
        format: "TensorFlow.js manifest",
        reason,
    };
    let text = super::read_regular_file(manifest)
        .and_then(|b| String::from_utf8(b).map_err(std::io::Error::other))
        .map_err(|e| WeightsError::io(manifest, e))?;
    let groups: Vec<Group> = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut store = TensorStore::new(manifest);
    for g in groups {
        let mut data = Vec::new();
        for p in &g.paths {
            let relative = Path::new(p);
            if !relative
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
            {
                return Err(fail(format!(
                    "shard path {p:?} leaves the manifest's folder"
                )));
            }
            let shard = dir.join(relative);
            data.extend(super::read_regular_file(&shard).map_err(|e| WeightsError::io(&shard, e))?);
        }
        let mut pos = 0usize;
        for w in g.weights {
            let short = || fail(format!("`{}`: shards too short", w.name));
            let n = w
                .shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .ok_or_else(short)?;
            let take = |pos: usize, len: Option<usize>| {
                len.and_then(|len| Some(pos..pos.checked_add(len)?))
                    .and_then(|r| data.get(r))
                    .ok_or_else(short)
            };
            let values: Vec<f32> = match (&w.quantization, w.dtype.as_str()) {
                (Some(q), "float32") if q.dtype == "uint8" => {
                    let bytes = take(pos, Some(n))?;
                    pos += n;
                    bytes.iter().map(|&b| b as f32 * q.scale + q.min).collect()
                }
                (None, "float32") => {
                    let bytes = take(pos, n.checked_mul(4))?;
                    pos += 4 * n;
                    bytes
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect()
                }
                (q, d) => {
                    return Err(fail(format!(
                        "`{}`: dtype {d} with quantization {:?} is not supported",
                        w.name,
                        q.as_ref().map(|q| q.dtype.as_str())
                    )));
                }
            };
            store.insert(w.name, StoredTensor::from_f32(w.shape, &values));
        }
        if pos != data.len() {
            return Err(fail(format!(
                "{} bytes of the shards are not described",
                data.len() - pos
            )));
        }
    }
    Ok(store)
}

/// The store with every float tensor narrowed to f16 (for compact bundling).
pub fn to_f16(store: &TensorStore) -> TensorStore {
    let mut out = store.clone();
    for t in out.tensors.values_mut() {
        if let Some(v) = t.to_f32() {
            t.bytes = v
                .iter()
                .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                .collect();
            t.dtype = DType::F16;
        }
    }
    out
}
