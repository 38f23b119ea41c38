use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Tensor;
use clap::Args;

use crate::device::{ComputeDevice, DeviceChoice};
use crate::imaging::{grid, tensor_to_rgb_images};
use crate::model::loader::{tensor_from_vec, tensor_to_vec};
use crate::model::{FeatureInjection, Generator, NoiseMode};
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

fn stored_tensor<const D: usize>(store: &TensorStore, key: &str, device: &burn::tensor::Device) -> anyhow::Result<Option<Tensor<D>>> {
    let Some(t) = store.tensors.get(key) else { return Ok(None) };
    let shape: [usize; D] = t.shape.clone().try_into().map_err(|_| {
        anyhow::anyhow!("{}: `{key}` has shape {:?}, expected {D} dimensions", store.path().display(), t.shape)
    })?;
    let values = store.f32(key, &shape)?;
    Ok(Some(tensor_from_vec(values, shape, device)))
}

fn noise_from_file(store: &TensorStore, g: &Generator, device: &burn::tensor::Device) -> anyhow::Result<Option<Vec<Tensor<4>>>> {
    if !store.contains("noise_0") {
        return Ok(None);
    }
    (0..g.config.num_layers())
        .map(|j| {
            stored_tensor::<4>(store, &format!("noise_{j}"), device)?
                .with_context(|| format!("{}: noise_0 is present but noise_{j} is missing", store.path().display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Some)
}

fn parse_noise(spec: &str, latents: Option<&TensorStore>, g: &Generator, seed: u64, device: &burn::tensor::Device) -> anyhow::Result<NoiseMode> {
    if let Some(maps) = latents.map(|l| noise_from_file(l, g, device)).transpose()?.flatten() {
        return Ok(NoiseMode::Given(maps));
    }
    Ok(match spec {
        "const" => NoiseMode::Stored,
        "random" => NoiseMode::Random { seed },
        "none" => NoiseMode::Zero,
        file => {
            let store = weights::read_safetensors(Path::new(file))?;
            NoiseMode::Given(
                noise_from_file(&store, g, device)?
                    .with_context(|| format!("{file}: no noise_0 … tensors"))?,
            )
        }
    })
}

pub fn run(a: RenderArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = ComputeDevice::select(choice);
    println!("device: {dev}");
    let device = &dev.device;
    let (g, origin) = load_generator(a.weights.as_deref(), device)?;
    println!("generator: {origin} ({}px, style dim {}, {} w+ entries)", g.config.size, g.config.style_dim, g.config.n_latent());
    let latents = a.latents.as_deref().map(weights::read_safetensors).transpose()?;
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
            Some(FeatureInjection { layer: k, feature, scale: 1.0 })
        }
    };
    let taps: Vec<usize> = a.tap.into_iter().collect();
    let out = g.synthesize(wplus, &noise, injection.as_ref(), &taps)?;
    if let Some(path) = &a.raw {
        raw.insert_f32("image", out.image.dims().to_vec(), &tensor_to_vec(out.image.clone()));
        if let Some(f) = out.taps.first() {
            raw.insert_f32("feature", f.dims().to_vec(), &tensor_to_vec(f.clone()));
        }
        weights::write_safetensors(&raw, path)?;
        println!("raw tensors → {}", path.display());
    }
    save_pngs(&tensor_to_rgb_images(out.image), &a.out)
}

/// One image → `out` (a .png); several → `out` is the contact sheet and each image goes
/// beside it as `<stem>_NNN.png`; a directory `out` gets `NNN.png` plus `grid.png`.
fn save_pngs(images: &[image::RgbImage], out: &Path) -> anyhow::Result<()> {
    let save = |img: &image::RgbImage, p: &Path| img.save(p).with_context(|| format!("writing {}", p.display()));
    let is_png = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let columns = (images.len() as f64).sqrt().ceil() as usize;
    if is_png {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        if images.len() == 1 {
            save(&images[0], out)?;
            println!("image → {}", out.display());
            return Ok(());
        }
        let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        for (i, img) in images.iter().enumerate() {
            save(img, &out.with_file_name(format!("{stem}_{i:03}.png")))?;
        }
        save(&grid(images, columns), out)?;
        println!("{} images → {stem}_NNN.png, grid → {}", images.len(), out.display());
        return Ok(());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (i, img) in images.iter().enumerate() {
        save(img, &out.join(format!("{i:03}.png")))?;
    }
    save(&grid(images, columns), &out.join("grid.png"))?;
    println!("{} images + grid.png → {}", images.len(), out.display());
    Ok(())
}
