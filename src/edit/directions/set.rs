//! Our direction-set format: one safetensors file, a tensor `direction.<i>` per direction
//! (`[style_dim]` in W, or `[n_latent, style_dim]` per layer) and a JSON manifest in the
//! metadata (name, layers it applies to, slider range, provenance) plus the generator it
//! belongs to.

use std::ops::Range;
use std::path::Path;

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::model::Generator;
use crate::model::loader::tensor_from_vec;
use crate::weights::{self, TensorStore, WeightsError};

/// Which generator a set belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Owner {
    /// Computed from a generator whose weights have this digest.
    Generator(String),
    /// Published for a generator we only know by shape (e.g. the official FFHQ model).
    Shape,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectionInfo {
    /// Human name: "smile", "age", "sefa 3" …
    pub name: String,
    /// w+ layers it moves (half-open).
    pub layers: Range<usize>,
    /// Slider range.
    pub range: (f32, f32),
    /// Where it came from ("InterFaceGAN Smiling_boundary.npy", "SeFa layers 0..12" …).
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Direction {
    pub info: DirectionInfo,
    /// `style_dim` values (a W direction) or `n_latent · style_dim` (per layer, row-major).
    pub vector: Vec<f32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    owner: Owner,
    style_dim: usize,
    n_latent: usize,
    directions: Vec<DirectionInfo>,
}

#[derive(Debug, Clone)]
pub struct DirectionSet {
    pub owner: Owner,
    pub style_dim: usize,
    pub n_latent: usize,
    pub directions: Vec<Direction>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectionError {
    #[error("{0}")]
    Mismatch(String),
    #[error("no direction named `{0}` (have: {1})")]
    Unknown(String, String),
    #[error(transparent)]
    Weights(#[from] WeightsError),
}

impl DirectionSet {
    pub fn new(owner: Owner, style_dim: usize, n_latent: usize) -> Self {
        Self {
            owner,
            style_dim,
            n_latent,
            directions: Vec::new(),
        }
    }

    /// An empty set owned by (and shaped like) `g`.
    pub fn for_generator(g: &Generator) -> Self {
        Self::new(
            Owner::Generator(g.identity.clone()),
            g.config.style_dim,
            g.config.n_latent(),
        )
    }

    pub fn index_of(&self, name: &str) -> Result<usize, DirectionError> {
        self.directions
            .iter()
            .position(|d| d.info.name == name)
            .ok_or_else(|| {
                let names: Vec<_> = self
                    .directions
                    .iter()
                    .map(|d| d.info.name.as_str())
                    .collect();
                DirectionError::Unknown(name.into(), names.join(", "))
            })
    }

    /// Adds a direction, checking its length against the set's shape; layers ending at
    /// `usize::MAX` mean "every layer".
    pub fn push(&mut self, mut d: Direction) -> Result<(), DirectionError> {
        let (s, l) = (self.style_dim, self.n_latent);
        if d.info.layers.end == usize::MAX {
            d.info.layers.end = l;
        }
        if d.vector.len() != s && d.vector.len() != s * l {
            return Err(DirectionError::Mismatch(format!(
                "direction `{}` has {} values; this set needs {s} (W) or {} (w+, {l}×{s})",
                d.info.name,
                d.vector.len(),
                s * l
            )));
        }
        let (lo, hi) = d.info.range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) || d.vector.iter().any(|v| !v.is_finite())
        {
            return Err(DirectionError::Mismatch(format!(
                "direction `{}` has a slider range {lo}…{hi} or values that are not finite numbers",
                d.info.name
            )));
        }
        if d.info.layers.end > l || d.info.layers.is_empty() {
            return Err(DirectionError::Mismatch(format!(
                "direction `{}` applies to layers {:?}, the generator has 0..{l}",
                d.info.name, d.info.layers
            )));
        }
        self.directions.push(d);
        Ok(())
    }

    /// Refuses a set made for another generator.
    pub fn check(&self, g: &Generator) -> Result<(), DirectionError> {
        let (s, l) = (g.config.style_dim, g.config.n_latent());
        if self.style_dim != s || self.n_latent != l {
            return Err(DirectionError::Mismatch(format!(
                "these directions are for a generator with style dim {} and {} w+ layers; the loaded one has {s} and {l}",
                self.style_dim, self.n_latent
            )));
        }
        match &self.owner {
            Owner::Generator(id) if *id != g.identity => Err(DirectionError::Mismatch(format!(
                "these directions were computed from generator {id}, not from the loaded generator {}",
                g.identity
            ))),
            _ => Ok(()),
        }
    }

    /// The edit `Σ αᵢ·dᵢ` as a w+ offset `[1, n_latent, style_dim]`, each direction on its layers.
    pub fn offset(&self, sliders: &[(usize, f32)], device: &burn::tensor::Device) -> Tensor<3> {
        let (s, l) = (self.style_dim, self.n_latent);
        let mut acc = vec![0f32; l * s];
        for &(i, alpha) in sliders {
            let d = &self.directions[i];
            for layer in d.info.layers.clone() {
                let src = if d.vector.len() == s {
                    &d.vector[..]
                } else {
                    &d.vector[layer * s..(layer + 1) * s]
                };
                for (a, v) in acc[layer * s..(layer + 1) * s].iter_mut().zip(src) {
                    *a += alpha * v;
                }
            }
        }
        tensor_from_vec(acc, [1, l, s], device)
    }

    /// `w̃ = w + Σ αᵢ·dᵢ` (deterministic: the same sliders give the same latent).
    pub fn apply(
        &self,
        g: &Generator,
        wplus: Tensor<3>,
        sliders: &[(usize, f32)],
    ) -> Result<Tensor<3>, DirectionError> {
        self.check(g)?;
        Ok(wplus.clone() + self.offset(sliders, &wplus.device()))
    }

    /// The set as tensors `direction.i` and a `directions` manifest in the metadata.
    pub fn to_store(&self, source: &Path) -> TensorStore {
        let mut st = TensorStore::new(source);
        for (i, d) in self.directions.iter().enumerate() {
            let shape = if d.vector.len() == self.style_dim {
                vec![self.style_dim]
            } else {
                vec![self.n_latent, self.style_dim]
            };
            st.insert_f32(format!("direction.{i}"), shape, &d.vector);
        }
        let manifest = Manifest {
            owner: self.owner.clone(),
            style_dim: self.style_dim,
            n_latent: self.n_latent,
            directions: self.directions.iter().map(|d| d.info.clone()).collect(),
        };
        st.metadata.insert(
            "directions".into(),
            serde_json::to_string(&manifest).expect("manifest serializes"),
        );
        st
    }

    pub fn save(&self, path: &Path) -> Result<(), WeightsError> {
        weights::write_safetensors(&self.to_store(path), path)
    }

    pub fn load(path: &Path) -> Result<Self, DirectionError> {
        Self::from_store(&weights::read_safetensors(path)?)
    }

    /// The set in tensors and metadata as [`DirectionSet::to_store`] writes them.
    pub fn from_store(st: &TensorStore) -> Result<Self, DirectionError> {
        let manifest: Manifest = st
            .metadata
            .get("directions")
            .and_then(|m| serde_json::from_str(m).ok())
            .ok_or_else(|| {
                st.layout_error("not a direction set (no `directions` manifest in the metadata)")
            })?;
        let mut set = DirectionSet::new(manifest.owner, manifest.style_dim, manifest.n_latent);
        for (i, info) in manifest.directions.into_iter().enumerate() {
            let key = format!("direction.{i}");
            let shape = st.shape(&key)?.to_vec();
            let vector = st.f32(&key, &shape)?;
            set.push(Direction { info, vector })?;
        }
        Ok(set)
    }
}
