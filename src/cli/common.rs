//! Helpers the subcommands share: tensors from latents files, the `--noise` option, PNG output.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Tensor;

use crate::device::{ComputeDevice, DeviceChoice};
use crate::face::Framing;
use crate::imaging::grid;
use crate::model::loader::tensor_from_vec;
use crate::model::{Generator, NoiseMode};
use crate::weights::{self, TensorStore};
use crate::workspace::Workspace;

/// The models and framing of the commands that open photos.
#[derive(clap::Args, Debug)]
pub struct ModelArgs {
    /// Generator weights (.safetensors, .pt, NVIDIA .pkl; default: the bundled model).
    #[arg(long)]
    pub weights: Option<std::path::PathBuf>,
    /// Feature-Style encoder weights (.safetensors or the official .pth; default: bundled).
    #[arg(long)]
    pub encoder: Option<std::path::PathBuf>,
    /// How photos are framed, as in the editor: auto = detect and FFHQ-align the largest face
    /// (centre square if none), center-crop = use them as they are (already aligned crops).
    #[arg(long, value_enum, default_value_t = Framing::Auto)]
    pub framing: Framing,
}

impl ModelArgs {
    /// A workspace with these models (see [`open_workspace`]).
    pub fn open(&self, choice: DeviceChoice) -> anyhow::Result<Workspace> {
        open_workspace(
            choice,
            self.weights.as_deref(),
            self.encoder.as_deref(),
            self.framing,
        )
    }
}

/// A workspace on the chosen device with the generator in `weights` (else the bundled one),
/// the encoder in `encoder` (else the bundled one, when it fits) and, for `Framing::Auto`,
/// the face detector; says what it loaded.
pub fn open_workspace(
    choice: DeviceChoice,
    weights: Option<&Path>,
    encoder: Option<&Path>,
    framing: Framing,
) -> anyhow::Result<Workspace> {
    let mut ws = Workspace::new(ComputeDevice::select(choice));
    println!("device: {}", ws.device);
    ws.load_generator(weights)?;
    if encoder.is_some() {
        ws.load_encoder(encoder)?;
    }
    println!(
        "generator: {}",
        ws.generator_origin().expect("loaded above")
    );
    if let Some(origin) = ws.encoder_origin() {
        println!("encoder: {origin}");
    }
    if framing == Framing::Auto {
        ws.load_detector()?;
    }
    Ok(ws)
}

pub fn stored_tensor<const D: usize>(
    store: &TensorStore,
    key: &str,
    device: &burn::tensor::Device,
) -> anyhow::Result<Option<Tensor<D>>> {
    let Some(t) = store.tensors.get(key) else {
        return Ok(None);
    };
    let shape: [usize; D] = t.shape.clone().try_into().map_err(|_| {
        anyhow::anyhow!(
            "{}: `{key}` has shape {:?}, expected {D} dimensions",
            store.path().display(),
            t.shape
        )
    })?;
    let values = store.f32(key, &shape)?;
    Ok(Some(tensor_from_vec(values, shape, device)))
}

pub fn noise_from_file(
    store: &TensorStore,
    g: &Generator,
    device: &burn::tensor::Device,
) -> anyhow::Result<Option<Vec<Tensor<4>>>> {
    if !store.contains("noise_0") {
        return Ok(None);
    }
    (0..g.config.num_layers())
        .map(|j| {
            stored_tensor::<4>(store, &format!("noise_{j}"), device)?.with_context(|| {
                format!(
                    "{}: noise_0 is present but noise_{j} is missing",
                    store.path().display()
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Some)
}

pub fn parse_noise(
    spec: &str,
    latents: Option<&TensorStore>,
    g: &Generator,
    seed: u64,
    device: &burn::tensor::Device,
) -> anyhow::Result<NoiseMode> {
    if let Some(maps) = latents
        .map(|l| noise_from_file(l, g, device))
        .transpose()?
        .flatten()
    {
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

/// One image → `out` (a .png); several → `out` is the contact sheet and each image goes
/// beside it as `<stem>_NNN.png`; a directory `out` gets `NNN.png` plus `grid.png`.
pub fn save_pngs(images: &[image::RgbImage], out: &Path) -> anyhow::Result<()> {
    let save = |img: &image::RgbImage, p: &Path| {
        crate::safe_write::save_image(img, p).with_context(|| format!("writing {}", p.display()))
    };
    let is_png = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
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
        let stem = out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (i, img) in images.iter().enumerate() {
            save(img, &out.with_file_name(format!("{stem}_{i:03}.png")))?;
        }
        save(&grid(images, columns), out)?;
        println!(
            "{} images → {stem}_NNN.png, grid → {}",
            images.len(),
            out.display()
        );
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

/// A `--set NAME=VALUE` slider setting.
pub fn parse_slider(s: &str) -> Result<(String, f32), String> {
    let (name, value) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))?;
    let value: f32 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    if !value.is_finite() {
        return Err(format!("`{value}` is not a finite number"));
    }
    Ok((name.trim().to_string(), value))
}

/// The photos of `dir`, sorted by name.
pub fn images_in(dir: &std::path::Path, limit: Option<usize>) -> anyhow::Result<Vec<PathBuf>> {
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["jpg", "jpeg", "png"].contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    images.sort();
    images.truncate(limit.unwrap_or(usize::MAX));
    if images.is_empty() {
        bail!("{}: no JPEG or PNG images", dir.display());
    }
    Ok(images)
}
