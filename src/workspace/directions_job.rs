//! Computing slider directions from the loaded generator (SeFa, GANSpace) as a job: it runs on
//! a copy of the generator on any thread, reports progress, can be cancelled, and its set is
//! taken only while the same generator is loaded.

use std::ops::Range;

use anyhow::{Context, bail};

use super::Workspace;
use crate::edit::directions::{DirectionSet, ganspace, sefa};
use crate::model::Generator;
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
}

impl DirectionMethod {
    pub fn name(&self) -> &'static str {
        match self {
            DirectionMethod::Sefa { .. } => "SeFa",
            DirectionMethod::Ganspace { .. } => "GANSpace",
        }
    }
}

pub struct DirectionsJob {
    generator: Generator,
    method: DirectionMethod,
}

/// A computed set and each direction's strength (SeFa eigenvalue, GANSpace variance).
#[derive(Debug)]
pub struct ComputedDirections {
    pub set: DirectionSet,
    pub strengths: Vec<f64>,
    pub label: String,
}

impl Workspace {
    pub fn prepare_directions(&self, method: DirectionMethod) -> anyhow::Result<DirectionsJob> {
        let g = self.generator()?;
        let n = g.config.n_latent();
        let layers = match &method {
            DirectionMethod::Sefa { layers, .. } | DirectionMethod::Ganspace { layers, .. } => {
                layers.clone()
            }
        };
        if let Some(l) = layers
            && (l.is_empty() || l.end > n)
        {
            bail!("layer range {l:?} is not inside 0..{n}");
        }
        Ok(DirectionsJob {
            generator: g.clone(),
            method,
        })
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
        };
        if cancel.is_cancelled() {
            bail!("cancelled: the sliders in use are kept");
        }
        on_progress(1.0);
        let mut set = DirectionSet::for_generator(g);
        for d in dirs {
            set.push(d)?;
        }
        Ok(ComputedDirections {
            set,
            strengths,
            label,
        })
    }
}
