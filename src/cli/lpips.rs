use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::common::stored_tensor;
use crate::device::{ComputeDevice, DeviceChoice};
use crate::imaging::{load_photo, rgb_images_to_tensor};
use crate::model::loader::tensor_to_vec;
use crate::model::lpips::TrunkKind;

/// `--net`: which LPIPS trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Net {
    Alex,
    Vgg,
}

impl From<Net> for TrunkKind {
    fn from(n: Net) -> Self {
        match n {
            Net::Alex => TrunkKind::Alex,
            Net::Vgg => TrunkKind::Vgg,
        }
    }
}
use crate::weights::{self, TensorStore};

#[derive(Args, Debug)]
pub struct LpipsArgs {
    /// Two images to compare (resized to the first one's size).
    pub images: Vec<PathBuf>,
    /// Trunk weights: torchvision `alexnet-owt-*.pth` / `vgg16-*.pth`, or a full LPIPS state dict.
    #[arg(long)]
    pub trunk: PathBuf,
    /// Linear heads: `lpips/weights/v0.1/alex.pth` (or vgg.pth); default: taken from --trunk.
    #[arg(long)]
    pub lin: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Net::Alex)]
    pub net: Net,
    /// Exact check: safetensors with `image0`, `image1` [B,3,H,W] in [-1,1].
    #[arg(long)]
    pub input_tensor: Option<PathBuf>,
    /// Write `distance` [B] here.
    #[arg(long)]
    pub raw: Option<PathBuf>,
}

pub fn run(a: LpipsArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let dev = ComputeDevice::select(choice);
    let device = &dev.device;
    let lpips = crate::model_source::load_lpips(&a.trunk, a.lin.as_deref(), a.net.into(), device)?;
    let (x0, x1) = match &a.input_tensor {
        Some(p) => {
            let st = weights::read_safetensors(p)?;
            let get = |k: &str| {
                stored_tensor::<4>(&st, k, device)?
                    .with_context(|| format!("{}: no `{k}` tensor", p.display()))
            };
            (get("image0")?, get("image1")?)
        }
        None => {
            let [a0, a1] = a.images.as_slice() else {
                bail!("give two images (or --input-tensor)");
            };
            let i0 = load_photo(a0)?;
            let i1 = load_photo(a1)?;
            let i1 = image::imageops::resize(
                &i1,
                i0.width(),
                i0.height(),
                image::imageops::FilterType::Triangle,
            );
            (
                rgb_images_to_tensor(&[i0], device),
                rgb_images_to_tensor(&[i1], device),
            )
        }
    };
    if x0.dims() != x1.dims() {
        bail!("image0 is {:?} but image1 is {:?}", x0.dims(), x1.dims());
    }
    let d = tensor_to_vec(lpips.distance(x0, x1).total);
    println!(
        "LPIPS v0.1 ({}) on {dev}: {d:?}",
        TrunkKind::from(a.net).name()
    );
    if let Some(raw) = &a.raw {
        let mut out = TensorStore::new(raw);
        out.insert_f32("distance", vec![d.len()], &d);
        weights::write_safetensors(&out, raw)?;
    }
    Ok(())
}
