use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::common::{parse_noise, save_pngs};
use crate::device::{ComputeDevice, DeviceChoice};
use crate::edit::Codes;
use crate::edit::codes::photo_alignment;
use crate::edit::directions::DirectionSet;
use crate::edit::feature_edit::edited_image;
use crate::face::paste_back;
use crate::imaging::load_photo;
use crate::imaging::tensor_to_rgb_images;
use crate::model_source::{bundled_directions, load_generator};

#[derive(Args, Debug)]
pub struct EditArgs {
    /// Codes of the face (from `invert`).
    pub codes: PathBuf,
    /// Slider settings, `name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sliders: Vec<String>,
    /// Direction set (default: the bundled one).
    #[arg(long)]
    pub directions: Option<PathBuf>,
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[arg(long, default_value = "const")]
    pub noise: String,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: EditArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = ComputeDevice::select(choice);
    println!("device: {dev}");
    let (g, origin) = load_generator(a.weights.as_deref(), &dev.device)?;
    println!("generator: {origin}");
    let set_path = a
        .directions
        .clone()
        .or_else(bundled_directions)
        .context("no direction set: pass --directions SET.safetensors")?;
    let set = DirectionSet::load(&set_path)?;
    let mut sliders = Vec::new();
    for s in &a.sliders {
        let (name, value) = s
            .rsplit_once('=')
            .with_context(|| format!("`{s}` is not NAME=VALUE"))?;
        let value: f32 = value
            .trim()
            .parse()
            .with_context(|| format!("`{value}` is not a number"))?;
        sliders.push((set.index_of(name.trim())?, value));
    }
    let codes = Codes::load(&a.codes, &g.identity, &dev.device)?;
    let noise = parse_noise(&a.noise, None, &g, 0, &dev.device)?;
    let edited_w = set.apply(&g, codes.wplus.clone(), &sliders)?;
    let image = edited_image(&g, &codes, edited_w, &noise)?;
    let edited = tensor_to_rgb_images(image);
    save_pngs(&edited, &a.out)?;
    // Codes made from an aligned photo: also the whole photo with the edited face pasted back.
    if let Some((photo, aligned)) = photo_alignment(&a.codes)? {
        match load_photo(&photo) {
            Ok(original) => {
                let full = paste_back(&original, &edited[0], &aligned.quad);
                let stem = a
                    .out
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let path = a.out.with_file_name(format!("{stem}_full.png"));
                crate::safe_write::save_image(&full, &path)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("whole photo with the edited face → {}", path.display());
            }
            Err(e) => eprintln!("no paste-back: {e}"),
        }
    }
    Ok(())
}
