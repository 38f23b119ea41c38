use std::ops::Range;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::device::{ComputeDevice, DeviceChoice};
use crate::edit::directions::pick::{Pick, parse_layers, pick};
use crate::edit::directions::{DirectionSet, Owner, import};
use crate::model_source::load_generator;
use crate::workspace::{DirectionMethod, FaceSource, InterFaceGanSettings};

#[derive(Args, Debug)]
pub struct DirectionsArgs {
    #[command(subcommand)]
    pub action: DirectionsAction,
}

#[derive(Subcommand, Debug)]
pub enum DirectionsAction {
    /// SeFa: closed-form directions from the generator's modulation weights.
    Sefa {
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// w+ layers whose styles the directions should move (default: all).
        #[arg(long, value_parser = parse_layers)]
        layers: Option<Range<usize>>,
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
    /// GANSpace: PCA of mapped latents of sampled z.
    Ganspace {
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Sampled z (default 10,000 on GPU, 2,000 on CPU).
        #[arg(long)]
        samples: Option<usize>,
        #[arg(long, default_value_t = 20)]
        count: usize,
        #[arg(long, value_parser = parse_layers)]
        layers: Option<Range<usize>>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// InterFaceGAN: train named sliders (smile, age, gender, expressions) on this generator —
    /// faces are sampled (or photos inverted), scored by the bundled attribute networks, and
    /// each attribute's linear boundary in W is fit; its normal is the slider.
    Interfacegan {
        /// Attributes, one slider each: smile, age, gender, neutral, sad, angry, fearful,
        /// disgusted, surprised (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',', required = true)]
        attribute: Vec<crate::face::Attribute>,
        /// Conditional manipulation: remove these attributes' boundaries from each slider
        /// (e.g. `--orthogonal-to age,gender` so that smile neither ages nor changes gender).
        #[arg(long, value_enum, value_delimiter = ',')]
        orthogonal_to: Vec<crate::face::Attribute>,
        /// Generated faces to score (default 10,000 on GPU, 2,000 on CPU).
        #[arg(long, conflicts_with = "from_photos")]
        samples: Option<usize>,
        /// Fit on the encoder's inversions of the photos in this folder instead (the
        /// recommendation of the FSE authors for encoder latents).
        #[arg(long)]
        from_photos: Option<PathBuf>,
        /// With --from-photos: a boundary for each w+ entry of the inversions (the slider
        /// then moves each entry along its own normal) instead of one in W.
        #[arg(long, requires = "from_photos")]
        per_layer: bool,
        /// The top and bottom fraction of faces by score that form the two classes.
        #[arg(long, default_value_t = 0.25)]
        ratio: f32,
        /// Truncation ψ of the sampled faces.
        #[arg(long, default_value_t = 0.7)]
        truncation: f32,
        /// w+ layers the sliders move (default: all).
        #[arg(long, value_parser = parse_layers)]
        layers: Option<Range<usize>>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[command(flatten)]
        models: super::common::ModelArgs,
        #[arg(long)]
        out: PathBuf,
    },
    /// Import an InterFaceGAN boundary (.npy, W or per-layer w+; or a .pt tensor).
    ImportInterfacegan {
        file: PathBuf,
        #[arg(long)]
        name: Option<String>,
        /// Add to this set (created if missing); default: `<file stem>.directions.safetensors`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Style dim of the generator the file was made for.
        #[arg(long, default_value_t = 512)]
        style_dim: usize,
        /// w+ entries of that generator (18 for FFHQ 1024).
        #[arg(long, default_value_t = 18)]
        n_latent: usize,
        #[arg(long, value_parser = parse_layers)]
        layers: Option<Range<usize>>,
    },
    /// Import a GANSpace PCA file (`comp`, `mean`, `std`).
    ImportGanspace {
        file: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 20)]
        count: usize,
        #[arg(long, default_value_t = 18)]
        n_latent: usize,
    },
    /// List the directions of a set.
    List { set: PathBuf },
    /// Compose a named set from computed ones, e.g.
    /// `--take "sefa 3=Age,layers=2..6,range=4,flip"` (flip: + means more of the attribute).
    Pick {
        /// Sets to pick from (all of one generator).
        sets: Vec<PathBuf>,
        /// `OLD=NEW[,layers=A..B][,range=R][,flip]`, once per direction, in slider order.
        #[arg(long = "take", required = true, value_parser = Pick::parse)]
        takes: Vec<Pick>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Render a strip per direction (its slider from min to max on a random face) to name it by
    /// looking: `<out>/<name>.png`.
    Strip {
        set: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        weights: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Images per strip.
        #[arg(long, default_value_t = 7)]
        steps: usize,
        /// Faces (one row each: seed, seed+1, …).
        #[arg(long, default_value_t = 1)]
        faces: usize,
        #[arg(long, default_value_t = 0.7)]
        truncation: f32,
    },
}

pub fn run(a: DirectionsArgs, choice: DeviceChoice) -> anyhow::Result<()> {
    let computed = |weights: &Option<PathBuf>| -> anyhow::Result<_> {
        let dev = ComputeDevice::select(choice);
        println!("device: {dev}");
        let (g, origin) = load_generator(weights.as_deref(), &dev.device)?;
        println!("generator: {origin}");
        Ok((g, dev))
    };
    let save = |set: &DirectionSet, out: &PathBuf| -> anyhow::Result<()> {
        set.save(out)?;
        println!("{} directions → {}", set.directions.len(), out.display());
        Ok(())
    };
    match a.action {
        DirectionsAction::Sefa {
            weights,
            out,
            layers,
            count,
        } => compute(
            choice,
            weights.as_deref(),
            DirectionMethod::Sefa { layers, count },
            &out,
            "eigenvalue",
        ),
        DirectionsAction::Ganspace {
            weights,
            out,
            samples,
            count,
            layers,
            seed,
        } => {
            let samples = samples.unwrap_or(match ComputeDevice::select(choice).kind {
                crate::device::BackendKind::Gpu => 10_000,
                crate::device::BackendKind::Cpu => 2_000,
            });
            let method = DirectionMethod::Ganspace {
                samples,
                count,
                layers,
                seed,
            };
            compute(choice, weights.as_deref(), method, &out, "variance")
        }
        DirectionsAction::Interfacegan {
            attribute,
            orthogonal_to,
            samples,
            from_photos,
            per_layer,
            ratio,
            truncation,
            layers,
            seed,
            models,
            out,
        } => {
            crate::safe_write::check_target(&out)
                .with_context(|| format!("{}: cannot write the set", out.display()))?;
            let mut ws = models.open(choice)?;
            let faces = match &from_photos {
                Some(dir) => {
                    open_folder(&mut ws, dir, models.framing)?;
                    FaceSource::OpenPhotos { per_layer }
                }
                None => FaceSource::Samples {
                    count: samples.unwrap_or(match ws.device.kind {
                        crate::device::BackendKind::Gpu => 10_000,
                        crate::device::BackendKind::Cpu => 2_000,
                    }),
                    truncation,
                },
            };
            let settings = InterFaceGanSettings {
                attributes: attribute,
                orthogonal_to,
                faces,
                ratio,
                layers,
                seed,
                keep_current: false,
            };
            compute_in(ws, DirectionMethod::InterFaceGan(settings), &out, None)
        }
        DirectionsAction::ImportInterfacegan {
            file,
            name,
            out,
            style_dim,
            n_latent,
            layers,
        } => {
            let mut d = import::import_interfacegan(&file, name.as_deref(), style_dim)?;
            if let Some(l) = layers {
                d.info.layers = l;
            }
            let out = out.unwrap_or_else(|| file.with_extension("directions.safetensors"));
            let mut set = if out.exists() {
                DirectionSet::load(&out).with_context(|| format!("adding to {}", out.display()))?
            } else {
                DirectionSet::new(Owner::Shape, style_dim, n_latent)
            };
            set.push(d)?;
            save(&set, &out)
        }
        DirectionsAction::ImportGanspace {
            file,
            out,
            count,
            n_latent,
        } => {
            let dirs = import::import_ganspace(&file, count)?;
            let Some(first) = dirs.first() else {
                bail!("{}: no components", file.display())
            };
            let mut set = DirectionSet::new(Owner::Shape, first.vector.len(), n_latent);
            for d in dirs {
                set.push(d)?;
            }
            save(&set, &out)
        }
        DirectionsAction::Strip {
            set,
            out,
            weights,
            seed,
            steps,
            faces,
            truncation,
        } => {
            let (g, _) = computed(&weights)?;
            let set = DirectionSet::load(&set)?;
            set.check(&g)?;
            let w = g.seeded_wplus(seed, faces.max(1), truncation);
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let steps = steps.max(2);
            for (i, d) in set.directions.iter().enumerate() {
                let (lo, hi) = d.info.range;
                let edits: Vec<_> = (0..steps)
                    .map(|k| {
                        let alpha = lo + (hi - lo) * k as f32 / (steps - 1) as f32;
                        set.apply(&g, w.clone(), &[(i, alpha)])
                    })
                    .collect::<Result<_, _>>()?;
                let image = g
                    .synthesize(
                        burn::tensor::Tensor::cat(edits, 0),
                        &crate::model::NoiseMode::Stored,
                        None,
                        &[],
                    )?
                    .image;
                let file = out.join(format!("{}.png", d.info.name.replace([' ', '/'], "_")));
                // rendered slider-step-major; shown one face per row
                let images = crate::imaging::tensor_to_rgb_images(image);
                let rows: Vec<_> = (0..faces)
                    .flat_map(|f| (0..steps).map(move |k| k * faces + f))
                    .map(|i| images[i].clone())
                    .collect();
                crate::safe_write::save_image(&crate::imaging::grid(&rows, steps), &file)?;
                println!(
                    "  {:<16} {lo:+.1} … {hi:+.1} → {}",
                    d.info.name,
                    file.display()
                );
            }
            Ok(())
        }
        DirectionsAction::Pick { sets, takes, out } => {
            let sources = sets
                .iter()
                .map(|p| DirectionSet::load(p).with_context(|| format!("reading {}", p.display())))
                .collect::<anyhow::Result<Vec<_>>>()?;
            save(&pick(&sources, &takes)?, &out)
        }
        DirectionsAction::List { set } => {
            let s = DirectionSet::load(&set)?;
            println!(
                "{}: style dim {}, {} w+ layers, owner {:?}",
                set.display(),
                s.style_dim,
                s.n_latent,
                s.owner
            );
            for d in &s.directions {
                let i = &d.info;
                println!(
                    "  {:<16} layers {:>2}..{:<2} range {:?}  ({})",
                    i.name, i.layers.start, i.layers.end, i.range, i.source
                );
            }
            Ok(())
        }
    }
}

/// SeFa or GANSpace on the generator, as the editor computes them; the set is saved to `out`.
fn compute(
    choice: DeviceChoice,
    weights: Option<&std::path::Path>,
    method: DirectionMethod,
    out: &std::path::Path,
    strength: &str,
) -> anyhow::Result<()> {
    let ws =
        super::common::open_workspace(choice, weights, None, crate::face::Framing::CenterCrop)?;
    compute_in(ws, method, out, Some(strength))
}

/// Opens every image in `dir` (each failure reported on its own line, the rest used).
fn open_folder(
    ws: &mut crate::workspace::Workspace,
    dir: &std::path::Path,
    framing: crate::face::Framing,
) -> anyhow::Result<()> {
    let paths = super::common::images_in(dir, None)?;
    eprintln!("inverting {} photos …", paths.len());
    let mut opened = 0;
    for r in ws.open_photos(&paths, framing, 8)? {
        match r {
            Ok(_) => opened += 1,
            Err(e) => eprintln!("  skipped: {e:#}"),
        }
    }
    println!("{opened} photos inverted");
    Ok(())
}

/// Runs a directions job on `ws` with a progress line, prints what it reports and each
/// direction's `strength` (when named), and saves the set to `out`.
fn compute_in(
    mut ws: crate::workspace::Workspace,
    method: DirectionMethod,
    out: &std::path::Path,
    strength: Option<&str>,
) -> anyhow::Result<()> {
    let name = method.name();
    let started = std::time::Instant::now();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let computed =
        ws.prepare_directions(method)?
            .run(&crate::pti::CancelToken::default(), |f| {
                if tty && f > 0.0 && f < 1.0 {
                    let elapsed = started.elapsed().as_secs_f32();
                    eprint!(
                        "\r{name}: {:>3.0} % · ETA {:.0} s   ",
                        100.0 * f,
                        elapsed * (1.0 - f) / f
                    );
                }
            })?;
    eprintln!(
        "\r{name}: done in {:.1} s            ",
        started.elapsed().as_secs_f32()
    );
    for line in &computed.report {
        println!("{line}");
    }
    if let Some(strength) = strength {
        let total: f64 = computed.strengths.iter().sum();
        for (d, v) in computed.set.directions.iter().zip(&computed.strengths) {
            println!(
                "  {:<10} {strength} {v:.4e} ({:.1}% of the listed)",
                d.info.name,
                100.0 * v / total
            );
        }
    }
    ws.use_computed_directions(computed)?;
    ws.save_directions(out)?;
    println!(
        "{} directions → {}",
        ws.directions().map_or(0, |d| d.set.directions.len()),
        out.display()
    );
    Ok(())
}
