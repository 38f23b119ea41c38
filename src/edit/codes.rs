//! A face's codes: w+ and the feature code F at layer K, saved with the identity of the
//! generator they belong to so they are never applied to another one.

use std::path::Path;

use burn::tensor::{Device, Tensor};

use crate::model::loader::{tensor_from_vec, tensor_to_vec};
use crate::weights::{self, DType, StoredTensor, TensorStore, WeightsError};

#[derive(Debug, Clone)]
pub struct Codes {
    /// `[B, n_latent, style_dim]`, `latent_avg` included.
    pub wplus: Tensor<3>,
    /// `[B, C, h, w]`: replaces the generator's activation at `k`.
    pub feature: Tensor<4>,
    pub k: usize,
}

pub const GENERATOR_ID_KEY: &str = "generator_id";

impl Codes {
    pub fn batch(&self) -> usize {
        self.wplus.dims()[0]
    }

    /// Entry `i` of a batch.
    pub fn select(&self, i: usize) -> Codes {
        Codes {
            wplus: self.wplus.clone().narrow(0, i, 1),
            feature: self.feature.clone().narrow(0, i, 1),
            k: self.k,
        }
    }

    pub fn save(&self, path: &Path, generator_id: &str) -> Result<(), WeightsError> {
        self.save_with(path, generator_id, &[])
    }

    /// Saves with extra metadata (e.g. the photo and its alignment, for paste-back).
    pub fn save_with(
        &self,
        path: &Path,
        generator_id: &str,
        metadata: &[(&str, String)],
    ) -> Result<(), WeightsError> {
        let mut st = TensorStore::new(path);
        for (k, v) in metadata {
            st.metadata.insert(k.to_string(), v.clone());
        }
        st.insert_f32(
            "wplus",
            self.wplus.dims().to_vec(),
            &tensor_to_vec(self.wplus.clone()),
        );
        st.insert_f32(
            "feature",
            self.feature.dims().to_vec(),
            &tensor_to_vec(self.feature.clone()),
        );
        st.insert(
            "k",
            StoredTensor {
                dtype: DType::I64,
                shape: vec![1],
                bytes: (self.k as i64).to_le_bytes().to_vec(),
            },
        );
        st.metadata
            .insert(GENERATOR_ID_KEY.into(), generator_id.into());
        weights::write_safetensors(&st, path)
    }

    /// Loads codes, refusing them unless they were made for `generator_id`.
    pub fn load(path: &Path, generator_id: &str, device: &Device) -> Result<Codes, WeightsError> {
        let st = weights::read_safetensors(path)?;
        match st.metadata.get(GENERATOR_ID_KEY) {
            Some(id) if id == generator_id => {}
            other => {
                return Err(st.layout_error(format!(
                    "these codes belong to generator {}, not to the loaded generator {generator_id}",
                    other.map(String::as_str).unwrap_or("(unknown)")
                )));
            }
        }
        let k = st.get("k")?;
        let k = match (k.dtype, k.bytes.as_slice()) {
            (DType::I64, b) if b.len() == 8 => {
                match usize::try_from(i64::from_le_bytes(b.try_into().expect("8 bytes"))) {
                    Ok(k) if k <= 17 => k,
                    _ => return Err(st.layout_error("`k` is not a generator layer (0 … 17)")),
                }
            }
            _ => return Err(st.shape_error("k", "one I64")),
        };
        let shape = |key: &str| st.shape(key).map(|s| s.to_vec());
        let wplus_shape: [usize; 3] = shape("wplus")?
            .try_into()
            .map_err(|_| st.shape_error("wplus", "[B, n_latent, S]"))?;
        let feature_shape: [usize; 4] = shape("feature")?
            .try_into()
            .map_err(|_| st.shape_error("feature", "[B, C, h, w]"))?;
        Ok(Codes {
            wplus: tensor_from_vec(st.f32("wplus", &wplus_shape)?, wplus_shape, device),
            feature: tensor_from_vec(st.f32("feature", &feature_shape)?, feature_shape, device),
            k,
        })
    }
}

/// Metadata keys of a codes file made from a photo.
pub const PHOTO_KEY: &str = "photo";
pub const ALIGNMENT_KEY: &str = "alignment";

/// The photo and crop square a codes file was made from, when it records them.
pub fn photo_alignment(
    path: &Path,
) -> Result<Option<(std::path::PathBuf, crate::face::Aligned)>, WeightsError> {
    let st = weights::read_safetensors(path)?;
    Ok(st
        .metadata
        .get(PHOTO_KEY)
        .zip(st.metadata.get(ALIGNMENT_KEY))
        .and_then(|(p, a)| {
            serde_json::from_str::<crate::face::Aligned>(a)
                .ok()
                .map(|a| (std::path::PathBuf::from(p), a))
        }))
}
