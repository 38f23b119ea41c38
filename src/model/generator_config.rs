//! The shape of a StyleGAN2 generator, read from its weights (resolution, style dim, mapping
//! depth, channel table), so the official 1024 config-f, 256-px models and our small bundled
//! model all load with the same code.

use serde::{Deserialize, Serialize};

use crate::weights::{TensorStore, WeightsError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Output side in pixels (4 … 1024, a power of two).
    pub size: usize,
    pub style_dim: usize,
    /// Number of linear layers of the mapping network.
    pub n_mlp: usize,
    /// Learning-rate multiplier of the mapping network (0.01 in StyleGAN2).
    pub lr_mlp: f64,
    /// Channels at 4, 8, 16 … size pixels.
    pub channels: Vec<usize>,
    /// Width of z when it differs from `style_dim` (NVIDIA networks may have z_dim ≠ w_dim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z_dim: Option<usize>,
    /// NVIDIA's `conv_clamp`: every styled conv's output (after bias and activation) and every
    /// ToRGB output is clamped to ±this (rosinality's generators have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv_clamp: Option<f64>,
}

impl GeneratorConfig {
    /// Width of the mapping network's input z.
    pub fn z_dim(&self) -> usize {
        self.z_dim.unwrap_or(self.style_dim)
    }

    /// `log2(size)`.
    pub fn log_size(&self) -> usize {
        self.size.trailing_zeros() as usize
    }

    /// Entries of w+ (`2·log2(size) − 2`).
    pub fn n_latent(&self) -> usize {
        2 * self.log_size() - 2
    }

    /// Styled convolutions = noise inputs (`2·(log2(size) − 2) + 1`).
    pub fn num_layers(&self) -> usize {
        2 * (self.log_size() - 2) + 1
    }

    /// Channels of the feature map at `2^log_res` pixels.
    pub fn channels_at(&self, log_res: usize) -> usize {
        self.channels[log_res - 2]
    }

    /// Resolution of noise input `j` (`2^((j+5)/2)`).
    pub fn noise_resolution(&self, j: usize) -> usize {
        1 << (j + 5).div_euclid(2)
    }

    /// `[channels, side]` of the activation with outs-index `k` (0 = constant input,
    /// 1 = after `conv1`, then one per styled conv).
    pub fn feature_shape(&self, k: usize) -> [usize; 2] {
        let log_res = if k == 0 { 2 } else { (k + 4) / 2 };
        [self.channels_at(log_res), 1 << log_res]
    }

    /// StyleGAN2's channel table for `size` and `channel_multiplier` (config-f: 2).
    pub fn stylegan2(
        size: usize,
        style_dim: usize,
        n_mlp: usize,
        channel_multiplier: usize,
    ) -> Self {
        let log_size = size.trailing_zeros() as usize;
        let channels = (2..=log_size)
            .map(|l| match l {
                2..=5 => 512,
                _ => (512 >> (l - 5)) * channel_multiplier,
            })
            .collect();
        Self {
            size,
            style_dim,
            n_mlp,
            lr_mlp: 0.01,
            channels,
            z_dim: None,
            conv_clamp: None,
        }
    }

    /// Reads the configuration from the shapes of a `g_ema`-style state dict.
    pub fn from_store(store: &TensorStore) -> Result<Self, WeightsError> {
        let (style_dim, z_dim) = match store.shape("style.1.weight")? {
            [s, z] => (*s, *z),
            _ => return Err(store.shape_error("style.1.weight", "[style_dim, z_dim]")),
        };
        let n_mlp = (1..)
            .take_while(|i| store.contains(&format!("style.{i}.weight")))
            .count();
        let c4 = match store.shape("input.input")? {
            [1, c, 4, 4] => *c,
            _ => return Err(store.shape_error("input.input", "[1, C, 4, 4]")),
        };
        let mut channels = vec![c4];
        for j in 0.. {
            let key = format!("convs.{}.conv.weight", 2 * j);
            if !store.contains(&key) {
                break;
            }
            match store.shape(&key)? {
                [1, c, _, 3, 3] => channels.push(*c),
                _ => return Err(store.shape_error(&key, "[1, C_out, C_in, 3, 3]")),
            }
        }
        let log_size = channels.len() + 1;
        if !(2..=10).contains(&log_size) {
            return Err(store.layout_error(format!(
                "a generator of {} pixels is not supported (4 … 1024)",
                1usize << log_size
            )));
        }
        let meta = store
            .metadata
            .get("config")
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok());
        let number = |key: &str| {
            meta.as_ref()
                .and_then(|c| c.get(key))
                .and_then(|v| v.as_f64())
        };
        let lr_mlp = number("lr_mlp").unwrap_or(0.01);
        let conv_clamp = number("conv_clamp");
        if conv_clamp.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
            return Err(store.layout_error(format!(
                "generator metadata `conv_clamp` = {conv_clamp:?} is not a positive number"
            )));
        }
        if !(lr_mlp.is_finite() && lr_mlp > 0.0 && lr_mlp <= 1.0) {
            return Err(store.layout_error(format!(
                "generator metadata `lr_mlp` = {lr_mlp} is not in (0, 1]"
            )));
        }
        Ok(Self {
            size: 1 << log_size,
            style_dim,
            n_mlp,
            lr_mlp,
            channels,
            z_dim: (z_dim != style_dim).then_some(z_dim),
            conv_clamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_f_1024_counts() {
        let c = GeneratorConfig::stylegan2(1024, 512, 8, 2);
        assert_eq!(c.n_latent(), 18);
        assert_eq!(c.num_layers(), 17);
        assert_eq!(c.channels, vec![512, 512, 512, 512, 512, 256, 128, 64, 32]);
        assert_eq!(c.feature_shape(5), [512, 16]);
        assert_eq!(c.feature_shape(0), [512, 4]);
        assert_eq!(c.feature_shape(17), [32, 1024]);
        assert_eq!(c.noise_resolution(0), 4);
        assert_eq!(c.noise_resolution(16), 1024);
    }
}
