//! `facestyle eval`: inverts every image of a folder with each method and writes the report
//! (Markdown, and a CSV next to it) — see [`crate::eval`].

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use super::common::ModelArgs;
use crate::device::DeviceChoice;
use crate::eval::{EvalConfig, Measures, Method, evaluate};
use crate::model::lpips::TrunkKind;
use crate::model_source::{load_attribute_nets, load_identity_net, load_lpips, shipped_lpips};
use crate::safe_write::{check_target, write_atomically};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Folder of photos (JPEG/PNG, sorted by name).
    #[arg(long)]
    pub images: PathBuf,
    /// Methods, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fse,project,pti"
    )]
    pub methods: Vec<Method>,
    /// The first N images only.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub models: ModelArgs,
    /// Direction set whose edits are measured (default: the bundled one).
    #[arg(long)]
    pub directions: Option<PathBuf>,
    /// Edits at ±amount on every direction.
    #[arg(long, default_value_t = 2.0)]
    pub amount: f32,
    /// Generated faces the edit strength is measured on.
    #[arg(long, default_value_t = 32)]
    pub edit_faces: usize,
    /// Projection steps (PTI's 450).
    #[arg(long, default_value_t = 450)]
    pub projection_steps: usize,
    /// Tuning steps (PTI's 350).
    #[arg(long, default_value_t = 350)]
    pub tuning_steps: usize,
    /// LPIPS trunk (AlexNet) and heads files; default: from the weights folder when there,
    /// else LPIPS is reported as n/a.
    #[arg(long)]
    pub lpips_trunk: Option<PathBuf>,
    #[arg(long)]
    pub lpips_lin: Option<PathBuf>,
    /// Clips (MP4, GIF, WebP or frame folders) reconstructed frame by frame for the video
    /// table: identity consistency (FSE Appendix C), PSNR, SSIM (repeatable).
    #[arg(long = "video", value_name = "CLIP")]
    pub videos: Vec<PathBuf>,
    /// The Markdown report; the CSV goes next to it (same name, .csv).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: EvalArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    if a.methods.is_empty() {
        bail!("name at least one method (fse, project, pti)");
    }
    let images = super::common::images_in(&a.images, a.limit)?;
    // the report's folder is made (and found unwritable) before hours of work, not after
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let csv = a.out.with_extension("csv");
    for path in [&a.out, &csv] {
        check_target(path).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut ws = a.models.open(choice)?;
    if let Some(d) = &a.directions {
        ws.load_directions(d)?;
    }
    let device = ws.burn_device().clone();
    let id_net = load_identity_net(&device)?;
    let lpips = match &a.lpips_trunk {
        Some(t) => Some(load_lpips(
            t,
            a.lpips_lin.as_deref(),
            TrunkKind::Alex,
            &device,
        )?),
        None => shipped_lpips(&device).transpose()?,
    };
    let config = EvalConfig {
        images,
        methods: a.methods.clone(),
        framing: a.models.framing,
        projection_steps: a.projection_steps,
        tuning_steps: a.tuning_steps,
        amount: a.amount,
        edit_faces: a.edit_faces,
    };
    let attributes = match load_attribute_nets(&device) {
        Ok(nets) => Some(nets),
        Err(e) => {
            eprintln!("attribute sliders are not measured: {e}");
            None
        }
    };
    let measures = Measures {
        id_net: &id_net,
        lpips: lpips.as_ref(),
        attributes: attributes.as_ref(),
    };
    let mut report = evaluate(&mut ws, &measures, &config, |line| eprintln!("{line}"))?;
    if !a.videos.is_empty() && !ws.has_detector() {
        ws.load_detector()?;
    }
    for clip in &a.videos {
        let frames = crate::video::read_clip(clip, None)?;
        let settings = crate::workspace::VideoSettings::default();
        let (_, r) = ws.edit_video(
            frames,
            &settings,
            &crate::pti::CancelToken::default(),
            |_| {},
        )?;
        let row = crate::eval::VideoRow::of(&clip.display().to_string(), &r);
        eprintln!(
            "{}: {} frames, PSNR {:.2}, consistency {:?}",
            row.clip, row.frames, row.psnr, row.consistency
        );
        report.videos.push(row);
    }
    let header = format!(
        "# Inversion and editing report\n\n\
         - images: `{}` ({} evaluated, framing {:?})\n\
         - generator: {}\n\
         - encoder: {}\n\
         - directions: {}\n\
         - device: {}\n\
         - methods: {} (project = PTI's W projection, {} steps; pti = that pivot + {} tuning steps)\n\
         - SSIM: Gaussian window 11, σ 1.5, valid region; MSE on [0,1]; PSNR in dB\n\
         - LPIPS: {}\n\
         - ID: cosine similarity of the bundled identity network's embeddings (face-api's \
           ResNet, weights/face_id) — the papers use ArcFace, which is not available here\n\
         - edits: ±{} on every direction; identity drift = 1 − ID(edit, unedited inversion) \
           on the photos; strength = ‖edited inversion − inversion‖ / ‖G(w+αd) − G(w)‖ on {} \
           generated faces (1 = the full edit), edit PSNR against G(w+αd)",
        a.images.display(),
        config.images.len() - report.skipped.len(),
        config.framing,
        ws.generator_origin()
            .map(|o| o.to_string())
            .unwrap_or_default(),
        ws.encoder_origin()
            .map(|o| o.to_string())
            .unwrap_or_default(),
        ws.directions()
            .map(|d| d.label.clone())
            .unwrap_or_else(|| "none".into()),
        ws.device,
        a.methods
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", "),
        a.projection_steps,
        a.tuning_steps,
        if lpips.is_some() {
            "exact LPIPS v0.1 (AlexNet)"
        } else {
            "n/a (its weights are not in the weights folder; pass --lpips-trunk/--lpips-lin)"
        },
        a.amount,
        a.edit_faces,
    );
    write_atomically(&a.out, report.markdown(&header).as_bytes())
        .with_context(|| format!("writing {}", a.out.display()))?;
    write_atomically(&csv, report.csv().as_bytes())
        .with_context(|| format!("writing {}", csv.display()))?;
    println!("wrote {} and {}", a.out.display(), csv.display());
    Ok(())
}
