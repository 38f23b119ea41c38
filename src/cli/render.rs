use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::common::{parse_noise, save_pngs, stored_tensor};
use crate::device::{ComputeDevice, DeviceChoice};
use crate::imaging::tensor_to_rgb_images;
use crate::model::FeatureInjection;
use crate::model::loader::tensor_to_vec;
use crate::model_source::load_generator;
use crate::weights::{self, TensorStore};

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Generator weights (safetensors, or a .pt checkpoint). Default: the bundled model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// safetensors with `wplus` [B,n_latent,S] or `z` [B,S]; optional `noise_0…`, `feature`.
    #[arg(long)]
    pub latents: Option<PathBuf>,
    /// First seed of random faces (when no --latents).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of random faces (seed, seed+1, …).
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Truncation psi toward the mean latent (1 = none).
    #[arg(long, default_value_t = 1.0)]
    pub truncation: f32,
    /// Noise: const (stored buffers), random, none, or a safetensors FILE with noise_0…
    #[arg(long, default_value = "const")]
    pub noise: String,
    /// Return G^K: the activation after synthesis layer K (written as `feature` with --raw).
    #[arg(long)]
    pub tap: Option<usize>,
    /// Replace G^K with the latents file's `feature` before the next conv consumes it.
    #[arg(long)]
    pub inject: Option<usize>,
    /// Output PNG file, or a directory (one PNG per image plus grid.png).
    #[arg(long)]
    pub out: PathBuf,
    /// Also write raw tensors: `image` [B,3,H,W] unclamped, `w` when mapped, `feature` with --tap.
    #[arg(long)]
    pub raw: Option<PathBuf>,
}

pub fn run(a: RenderArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = ComputeDevice::select(choice);
    println!("device: {dev}");
    let device = &dev.device;
    let (g, origin) = load_generator(a.weights.as_deref(), device)?;
    println!(
        "generator: {origin} ({}px, style dim {}, {} w+ entries)",
        g.config.size,
        g.config.style_dim,
        g.config.n_latent()
    );
    let latents = a
        .latents
        .as_deref()
        .map(weights::read_safetensors)
        .transpose()?;
    let noise = parse_noise(&a.noise, latents.as_ref(), &g, a.seed, device)?;
    let avg = g.truncation_latent();
    let mut raw = TensorStore::new(a.raw.clone().unwrap_or_default());

    let wplus = match &latents {
        Some(l) => {
            if let Some(wplus) = stored_tensor::<3>(l, "wplus", device)? {
                g.truncate(wplus, a.truncation, &avg)
            } else if let Some(z) = stored_tensor::<2>(l, "z", device)? {
                let w = g.map(z);
                raw.insert_f32("w", w.dims().to_vec(), &tensor_to_vec(w.clone()));
                g.broadcast(g.truncate(w, a.truncation, &avg))
            } else {
                bail!("{}: needs a `wplus` or a `z` tensor", l.path().display());
            }
        }
        None => {
            if a.count == 0 {
                bail!("--count must be at least 1");
            }
            let w = g.map(g.seeded_z(a.seed, a.count));
            g.broadcast(g.truncate(w, a.truncation, &avg))
        }
    };
    let injection = match a.inject {
        None => None,
        Some(k) => {
            let feature = latents
                .as_ref()
                .map(|l| stored_tensor::<4>(l, "feature", device))
                .transpose()?
                .flatten()
                .context("--inject needs a `feature` tensor in the --latents file")?;
            Some(FeatureInjection {
                layer: k,
                feature,
                scale: 1.0,
                residual: false,
            })
        }
    };
    let taps: Vec<usize> = a.tap.into_iter().collect();
    let out = g.synthesize(wplus, &noise, injection.as_ref(), &taps)?;
    if let Some(path) = &a.raw {
        raw.insert_f32(
            "image",
            out.image.dims().to_vec(),
            &tensor_to_vec(out.image.clone()),
        );
        if let Some(f) = out.taps.first() {
            raw.insert_f32("feature", f.dims().to_vec(), &tensor_to_vec(f.clone()));
        }
        weights::write_safetensors(&raw, path)?;
        println!("raw tensors → {}", path.display());
    }
    save_pngs(&tensor_to_rgb_images(out.image), &a.out)
}
