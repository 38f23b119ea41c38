//! The encoder's shape, read from its weights: stage widths and depths, feature channels,
//! style dim and number of w+ heads.

use serde::{Deserialize, Serialize};

use crate::weights::{TensorStore, WeightsError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    /// Channels of `block_1 … block_4` (released: 64, 128, 256, 512).
    pub widths: Vec<usize>,
    /// Blocks per stage (released: 3, 4, 14, 3).
    pub layers: Vec<usize>,
    /// Channels of the feature code F (= the generator's channels at layer K).
    pub fmaps: usize,
    pub style_dim: usize,
    /// Number of w+ heads (= the generator's n_latent).
    pub n_styles: usize,
    /// Stride of the last conv of the feature branch (FSE: 2).
    pub content_stride: usize,
    /// Side of the encoder's input images (FSE: 256).
    pub input_resolution: usize,
    /// The generator layer F replaces (FSE: 5).
    pub k: usize,
    pub bn_eps: f64,
}

impl EncoderConfig {
    /// Side of F: the input is halved by the stem-less stages 1–3 and the feature branch.
    pub fn feature_side(&self) -> usize {
        self.input_resolution / 8 / self.content_stride
    }

    pub fn from_store(store: &TensorStore) -> Result<Self, WeightsError> {
        let mut widths = Vec::new();
        let mut layers = Vec::new();
        for stage in 1..=4 {
            let key = format!("block_{stage}.0.conv1.weight");
            match store.shape(&key)? {
                [p, _, 3, 3] => widths.push(*p),
                _ => return Err(store.shape_error(&key, "[planes, in, 3, 3]")),
            }
            layers.push(
                (0..)
                    .take_while(|n| store.contains(&format!("block_{stage}.{n}.conv1.weight")))
                    .count(),
            );
        }
        let fmaps = match store.shape("content_layer.1.weight")? {
            [f, _, 3, 3] => *f,
            _ => return Err(store.shape_error("content_layer.1.weight", "[fmaps, in, 3, 3]")),
        };
        let style_dim = match store.shape("styles.0.weight")? {
            [s, _] => *s,
            _ => return Err(store.shape_error("styles.0.weight", "[style_dim, in]")),
        };
        let n_styles = (0..)
            .take_while(|i| store.contains(&format!("styles.{i}.weight")))
            .count();
        let meta: Option<serde_json::Value> = ["config", "meta"]
            .iter()
            .find_map(|k| store.metadata.get(*k))
            .and_then(|c| serde_json::from_str(c).ok());
        let get = |names: &[&str], default: f64| {
            names
                .iter()
                .find_map(|n| {
                    meta.as_ref()
                        .and_then(|m| m.get(*n))
                        .and_then(|v| v.as_f64())
                })
                .unwrap_or(default)
        };
        // metadata is text anyone can edit: every value is checked before it sizes anything
        let whole = |names: &[&str], default: f64, range: std::ops::RangeInclusive<usize>| {
            let v = get(names, default);
            if v.fract() == 0.0 && v >= 0.0 && range.contains(&(v as usize)) {
                Ok(v as usize)
            } else {
                Err(store.layout_error(format!(
                    "encoder metadata `{}` = {v} is outside {}…{}",
                    names[0],
                    range.start(),
                    range.end()
                )))
            }
        };
        let input_resolution = whole(&["input_resolution", "in_res"], 256.0, 16..=4096)?;
        let content_stride = whole(&["content_stride", "stride"], 2.0, 1..=8)?;
        if !input_resolution.is_power_of_two()
            || !content_stride.is_power_of_two()
            || input_resolution < 8 * content_stride
        {
            return Err(store.layout_error(format!(
                "encoder metadata: input side {input_resolution} and feature stride {content_stride} must be powers of two with side ≥ 8 × stride"
            )));
        }
        let bn_eps = get(&["bn_eps"], 1e-5);
        if !(bn_eps.is_finite() && bn_eps > 0.0 && bn_eps < 1.0) {
            return Err(store.layout_error(format!(
                "encoder metadata `bn_eps` = {bn_eps} is not a small positive number"
            )));
        }
        Ok(Self {
            widths,
            layers,
            fmaps,
            style_dim,
            n_styles,
            content_stride,
            input_resolution,
            k: whole(&["k", "idx_k"], 5.0, 0..=17)?,
            bn_eps,
        })
    }
}
