//! Computing slider directions from the loaded generator (SeFa, GANSpace, InterFaceGAN
//! attribute boundaries) as a job: it runs on a copy of the generator on any thread, reports
//! progress, can be cancelled, and its set is taken only while the same generator is loaded.

use std::collections::HashMap;
use std::ops::Range;

use anyhow::{Context, bail};

use super::Workspace;
use crate::edit::directions::interfacegan::{self, Boundary, LabelledLatents};
use crate::edit::directions::{Direction, DirectionInfo, DirectionSet, ganspace, sefa};
use crate::face::{Attribute, AttributeNets};
use crate::model::Generator;
use crate::model::loader::tensor_to_vec;
use crate::pti::CancelToken;

/// How directions are found.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectionMethod {
    /// SeFa: eigenvectors of the modulation weights reading w+ `layers` (default: all).
    Sefa {
        layers: Option<Range<usize>>,
        count: usize,
    },
    /// GANSpace: principal components of `samples` mapped latents.
    Ganspace {
        samples: usize,
        count: usize,
        layers: Option<Range<usize>>,
        seed: u64,
    },
    /// InterFaceGAN: boundaries of attributes scored by face-api's networks.
    InterFaceGan(InterFaceGanSettings),
}

/// What InterFaceGAN fits and on which faces.
#[derive(Debug, Clone, PartialEq)]
pub struct InterFaceGanSettings {
    /// One direction each, in this order.
    pub attributes: Vec<Attribute>,
    /// Each direction is made orthogonal to these attributes' boundaries (itself excepted).
    pub orthogonal_to: Vec<Attribute>,
    pub faces: FaceSource,
    /// The top and the bottom fraction of the faces by score are the two classes.
    pub ratio: f32,
    /// w+ entries the directions move (default: all).
    pub layers: Option<Range<usize>>,
    /// Shuffles the classes before the fit/held-out split (and seeds the sampled faces).
    pub seed: u64,
    /// Add the trained sliders to the set in use (replacing ones of the same name) instead
    /// of making a set of their own.
    pub keep_current: bool,
}

/// Where InterFaceGAN's labelled latents come from.
#[derive(Debug, Clone, PartialEq)]
pub enum FaceSource {
    /// Faces generated from seeds `seed..seed + count` at truncation ψ (their w).
    Samples { count: usize, truncation: f32 },
    /// The open photos: the encoder's w+ of each, labelled by its framed photo; one boundary
    /// per w+ entry (`per_layer`), else one in W on the w+ averaged over its entries.
    OpenPhotos { per_layer: bool },
}

/// An attribute slider's end, in standard deviations of the faces along its direction.
const REACH_SIGMAS: f32 = 10.0;

/// Faces drawn to measure what a trained direction does to every attribute.
const PROBE_FACES: usize = 16;

impl DirectionMethod {
    pub fn name(&self) -> &'static str {
        match self {
            DirectionMethod::Sefa { .. } => "SeFa",
            DirectionMethod::Ganspace { .. } => "GANSpace",
            DirectionMethod::InterFaceGan(_) => "InterFaceGAN",
        }
    }
}

pub struct DirectionsJob {
    generator: Generator,
    method: DirectionMethod,
    /// InterFaceGAN's scorer.
    attribute_nets: Option<AttributeNets>,
    /// InterFaceGAN on the open photos: their latents and scores.
    photo_latents: Option<LabelledLatents>,
    /// The set the new directions join (InterFaceGAN with `keep_current`).
    current: Option<DirectionSet>,
}

/// A computed set and each direction's strength (SeFa eigenvalue, GANSpace variance,
/// InterFaceGAN held-out accuracy), with what the method reports.
#[derive(Debug)]
pub struct ComputedDirections {
    pub set: DirectionSet,
    pub strengths: Vec<f64>,
    pub label: String,
    pub report: Vec<String>,
}

impl Workspace {
    pub fn prepare_directions(&self, method: DirectionMethod) -> anyhow::Result<DirectionsJob> {
        let g = self.generator()?;
        let n = g.config.n_latent();
        let layers = match &method {
            DirectionMethod::Sefa { layers, .. } | DirectionMethod::Ganspace { layers, .. } => {
                layers.clone()
            }
            DirectionMethod::InterFaceGan(s) => s.layers.clone(),
        };
        if let Some(l) = layers
            && (l.is_empty() || l.end > n)
        {
            bail!("layer range {l:?} is not inside 0..{n}");
        }
        let (mut attribute_nets, mut photo_latents, mut current) = (None, None, None);
        if let DirectionMethod::InterFaceGan(s) = &method {
            if s.keep_current {
                current = self
                    .directions()
                    .map(|d| d.set.clone())
                    .filter(|set| set.check(g).is_ok());
            }
            if s.attributes.is_empty() {
                bail!("no attribute to train a direction for");
            }
            let nets = crate::model_source::load_attribute_nets(self.burn_device())?;
            if let FaceSource::OpenPhotos { per_layer } = s.faces {
                photo_latents = Some(self.photo_latents(&nets, per_layer)?);
            }
            attribute_nets = Some(nets);
        }
        Ok(DirectionsJob {
            generator: g.clone(),
            method,
            attribute_nets,
            photo_latents,
            current,
        })
    }

    /// The open photos' latents (the encoder's w+ on the base generator: every entry, or their
    /// mean) labelled by the attribute networks on each framed photo.
    fn photo_latents(
        &self,
        nets: &AttributeNets,
        per_layer: bool,
    ) -> anyhow::Result<LabelledLatents> {
        let config = &self.generator()?.config;
        let (style_dim, entries) = (config.style_dim, config.n_latent());
        let dim = if per_layer {
            style_dim * entries
        } else {
            style_dim
        };
        let mut out = LabelledLatents {
            dim,
            ..Default::default()
        };
        for p in self.photos() {
            let Ok(target) = p.target() else { continue };
            out.scores.extend(nets.score_aligned(target.clone()));
            let wplus = p.codes.wplus.clone();
            out.latents.extend(tensor_to_vec(if per_layer {
                wplus.reshape([dim])
            } else {
                wplus.mean_dim(1).reshape([dim])
            }));
        }
        if out.is_empty() {
            bail!("no open photo to train on: open the photos first");
        }
        Ok(out)
    }

    /// Makes a computed set the active one (the sliders of every photo start at 0); refused
    /// when another generator was loaded meanwhile.
    pub fn use_computed_directions(&mut self, computed: ComputedDirections) -> anyhow::Result<()> {
        computed
            .set
            .check(self.generator()?)
            .context("the generator changed while the directions were computed")?;
        self.set_directions(super::ActiveDirections {
            set: computed.set,
            label: computed.label,
            path: None,
        });
        Ok(())
    }

    /// Saves the active set (e.g. computed ones) and remembers the file as its source.
    pub fn save_directions(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let d = self
            .directions
            .as_mut()
            .context("no directions are loaded")?;
        d.set.save(path)?;
        d.path = Some(path.to_path_buf());
        d.label = path.display().to_string();
        Ok(())
    }
}

impl DirectionsJob {
    pub fn method(&self) -> &DirectionMethod {
        &self.method
    }

    /// Computes the set; `on_progress` sees the fraction done, `cancel` stops it.
    pub fn run(
        self,
        cancel: &CancelToken,
        mut on_progress: impl FnMut(f32),
    ) -> anyhow::Result<ComputedDirections> {
        let g = &self.generator;
        let all = 0..g.config.n_latent();
        let mut report = Vec::new();
        let (dirs, strengths, label) = match self.method {
            DirectionMethod::Sefa { layers, count } => {
                let layers = layers.unwrap_or(all);
                let label = format!("SeFa of layers {}..{} ({count})", layers.start, layers.end);
                let (d, s) = sefa::sefa(g, layers, count);
                (d, s, label)
            }
            DirectionMethod::Ganspace {
                samples,
                count,
                layers,
                seed,
            } => {
                let layers = layers.unwrap_or(all);
                let label = format!("GANSpace of {samples} mapped z ({count})");
                let (d, s) =
                    ganspace::ganspace_with_progress(g, samples, seed, count, layers, |f| {
                        on_progress(f);
                        !cancel.is_cancelled()
                    })
                    .context("cancelled: the sliders in use are kept")?;
                (d, s, label)
            }
            DirectionMethod::InterFaceGan(settings) => {
                let nets = self
                    .attribute_nets
                    .as_ref()
                    .context("the attribute networks are not loaded")?;
                let data = match (&settings.faces, self.photo_latents) {
                    (FaceSource::OpenPhotos { .. }, Some(d)) => d,
                    (FaceSource::Samples { count, truncation }, _) => {
                        interfacegan::sample_labelled(
                            g,
                            nets,
                            *count,
                            settings.seed,
                            *truncation,
                            |f| {
                                on_progress(0.9 * f);
                                !cancel.is_cancelled()
                            },
                        )
                        .context("cancelled: the sliders in use are kept")?
                    }
                    (FaceSource::OpenPhotos { .. }, None) => {
                        bail!("the open photos were not labelled")
                    }
                };
                let trained = train_attributes(g, nets, &data, &settings, cancel)?;
                report = trained.report;
                (trained.directions, trained.accuracies, trained.label)
            }
        };
        if cancel.is_cancelled() {
            bail!("cancelled: the sliders in use are kept");
        }
        on_progress(1.0);
        let mut set = self
            .current
            .unwrap_or_else(|| DirectionSet::for_generator(g));
        for d in dirs {
            set.directions.retain(|old| old.info.name != d.info.name);
            set.push(d)?;
        }
        Ok(ComputedDirections {
            set,
            strengths,
            label,
            report,
        })
    }
}

/// InterFaceGAN's directions with their held-out accuracies, a label and the report lines.
struct TrainedAttributes {
    directions: Vec<Direction>,
    accuracies: Vec<f64>,
    label: String,
    report: Vec<String>,
}

/// Fits every requested attribute's boundary on `data` (and the conditions' boundaries),
/// removes the conditions from each, and measures on fresh faces what each direction does to
/// every attribute before and after that.
fn train_attributes(
    g: &Generator,
    nets: &AttributeNets,
    data: &LabelledLatents,
    s: &InterFaceGanSettings,
    cancel: &CancelToken,
) -> anyhow::Result<TrainedAttributes> {
    let layers = s.layers.clone().unwrap_or(0..g.config.n_latent());
    // rows of every w+ entry: one boundary per entry
    let entries = data.dim / g.config.style_dim;
    // each attribute's boundary is fit once, whether it is trained or a condition of others
    let mut fitted: HashMap<Attribute, Boundary> = HashMap::new();
    let mut fit = |a: Attribute| -> anyhow::Result<Boundary> {
        if let Some(b) = fitted.get(&a) {
            return Ok(b.clone());
        }
        let values = data.values(a);
        let b = if entries > 1 {
            interfacegan::fit_boundary_per_layer(data, entries, &values, s.ratio, s.seed)
        } else {
            interfacegan::fit_boundary(data, &values, s.ratio, s.seed)
        }
        .with_context(|| a.name().to_string())?;
        fitted.insert(a, b.clone());
        Ok(b)
    };
    let truncation = match s.faces {
        FaceSource::Samples { truncation, .. } => truncation,
        FaceSource::OpenPhotos { .. } => 0.7,
    };
    let source = match s.faces {
        FaceSource::Samples { count, truncation } => {
            format!("{count} generated faces (psi {truncation})")
        }
        FaceSource::OpenPhotos { per_layer: false } => format!("{} open photos", data.len()),
        FaceSource::OpenPhotos { per_layer: true } => {
            format!("{} open photos, a boundary per w+ entry", data.len())
        }
    };
    let mut report = vec![format!(
        "{source}; classes: the top and bottom {:.0} % by score; 70 % fit, 30 % held out",
        100.0 * s.ratio
    )];
    let mut directions = Vec::new();
    let mut accuracies = Vec::new();
    for &a in &s.attributes {
        if cancel.is_cancelled() {
            bail!("cancelled: the sliders in use are kept");
        }
        let b = fit(a)?;
        let conditions: Vec<Attribute> = s
            .orthogonal_to
            .iter()
            .copied()
            .filter(|&c| c != a)
            .collect();
        let condition_normals = conditions
            .iter()
            .map(|&c| fit(c).map(|b| b.normal))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let normal = if entries > 1 {
            interfacegan::orthogonal_per_layer(&b.normal, &condition_normals, entries)
        } else {
            interfacegan::orthogonal_to(&b.normal, &condition_normals)
        };
        let sigma = interfacegan::spread_along(data, &normal);
        // ±10 σ of the faces' spread along the direction: 3 σ spans the sampled faces; the
        // slider reaches past them about as far as SeFa's ±5 do, which an inverted photo
        // needs to show the edit (strips at the ends stay faces: weights/directions.png).
        let reach = ((REACH_SIGMAS * sigma * 10.0).round() / 10.0).max(0.1);
        report.push(format!(
            "{}: held-out accuracy {:.1} % ({} fit, {} held out), σ along it {sigma:.3}, slider ±{reach}",
            a.name(),
            100.0 * b.held_out_accuracy,
            b.train,
            b.held_out
        ));
        let values = data.values(a);
        for (c, n) in conditions.iter().zip(&condition_normals) {
            report.push(format!(
                "  vs {}: score correlation {:+.2}; cosine of the boundaries {:+.3} before, {:+.3} after conditioning",
                c.name(),
                interfacegan::correlation(&values, &data.values(*c)),
                interfacegan::cosine(&b.normal, n),
                interfacegan::cosine(&normal, n),
            ));
        }
        let shown: Vec<Attribute> = std::iter::once(a)
            .chain(conditions.iter().copied())
            .collect();
        let describe = |e: &[f32]| {
            shown
                .iter()
                .map(|&x| {
                    let i = Attribute::ALL.iter().position(|&y| y == x).unwrap_or(0);
                    format!("{} {:+.3}", x.name(), e[i])
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let orthogonal = if conditions.is_empty() {
            String::new()
        } else {
            format!(
                ", orthogonal to {}",
                conditions
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let direction = Direction {
            info: DirectionInfo {
                name: a.name().to_string(),
                layers: layers.clone(),
                range: (-reach, reach),
                source: format!(
                    "InterFaceGAN on {source}: held-out accuracy {:.1} %{orthogonal}",
                    100.0 * b.held_out_accuracy
                ),
            },
            vector: normal,
        };
        // what moving along `vector` (on the direction's entries) does to every attribute
        let effect = |vector: &[f32]| {
            let probe = Direction {
                vector: vector.to_vec(),
                ..direction.clone()
            };
            interfacegan::edit_effect(
                g,
                nets,
                &probe,
                reach,
                PROBE_FACES,
                s.seed + 1_000_000,
                truncation,
            )
        };
        let after = effect(&direction.vector)?;
        if conditions.is_empty() {
            report.push(format!(
                "  change from −{reach} to +{reach} ({PROBE_FACES} new faces): {}",
                describe(&after)
            ));
        } else {
            report.push(format!(
                "  change from −{reach} to +{reach} ({PROBE_FACES} new faces): before conditioning {}; after {}",
                describe(&effect(&b.normal)?),
                describe(&after)
            ));
        }
        directions.push(direction);
        accuracies.push(b.held_out_accuracy as f64);
    }
    let names: Vec<&str> = s.attributes.iter().map(|a| a.name()).collect();
    Ok(TrainedAttributes {
        directions,
        accuracies,
        label: format!("InterFaceGAN: {}", names.join(", ")),
        report,
    })
}
