//! The models a workspace runs: generator, encoder, direction set and face detector, and what
//! happens to the open photos when one of them changes.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Workspace;
use crate::edit::directions::DirectionSet;
use crate::edit::inversion;
use crate::model::Generator;
use crate::model::encoder::FeatureStyleEncoder;
use crate::model_source::{
    ModelOrigin, bundled_directions, load_encoder, load_face_detector, load_generator,
};

pub struct LoadedGenerator {
    pub generator: Generator,
    pub origin: ModelOrigin,
    /// The file it came from (`None`: the bundled model), to load it again.
    pub path: Option<PathBuf>,
}

pub struct LoadedEncoder {
    pub encoder: FeatureStyleEncoder,
    pub origin: ModelOrigin,
    pub path: Option<PathBuf>,
}

/// The direction set the sliders show.
#[derive(Clone)]
pub struct ActiveDirections {
    pub set: DirectionSet,
    /// Where it came from, in words (a path, or "unnamed SeFa directions …").
    pub label: String,
    /// The file it was read from, when it was.
    pub path: Option<PathBuf>,
}

/// Unnamed SeFa directions offered when no named set fits the generator.
const FALLBACK_SEFA: usize = 8;

impl Workspace {
    /// Whether the face detector is loaded.
    pub fn has_detector(&self) -> bool {
        self.detector.is_some()
    }

    /// Loads the face detector from the weights folder (photos are centre-cropped without it).
    pub fn load_detector(&mut self) -> anyhow::Result<()> {
        self.detector = Some(load_face_detector(self.burn_device())?);
        Ok(())
    }

    /// Loads the generator in `path` (else the bundled one), the encoder that fits it (the one
    /// in use if it fits, else the bundled one) and its directions (the set in use if it fits,
    /// else the bundled set, else SeFa). On failure everything stays as it was. Photos made
    /// for another generator cannot be kept: they are closed and their names returned.
    pub fn load_generator(&mut self, path: Option<&Path>) -> anyhow::Result<Vec<String>> {
        let (generator, origin) = load_generator(path, self.burn_device())?;
        let same = self
            .generator
            .as_ref()
            .is_some_and(|g| g.generator.identity == generator.identity);
        self.generator = Some(super::LoadedGenerator {
            generator,
            origin,
            path: path.map(Path::to_path_buf),
        });
        let encoder_path = self.encoder.as_ref().ok().and_then(|e| e.path.clone());
        if self.load_encoder(encoder_path.as_deref()).is_err() && encoder_path.is_some() {
            let _ = self.load_encoder(None);
        }
        let directions_path = self.directions.as_ref().and_then(|d| d.path.clone());
        if directions_path
            .as_deref()
            .is_none_or(|p| self.load_directions(p).is_err())
        {
            self.use_bundled_directions();
        }
        if same {
            return Ok(Vec::new());
        }
        let closed = self.photos.drain(..).map(|p| p.name()).collect();
        Ok(closed)
    }

    /// The file of the loaded generator (`None`: the bundled model or none).
    pub fn generator_path(&self) -> Option<&Path> {
        self.generator.as_ref().and_then(|g| g.path.as_deref())
    }

    /// The encoder in `path` (else the bundled one); kept only if it fits the generator.
    pub fn load_encoder(&mut self, path: Option<&Path>) -> anyhow::Result<()> {
        let g = self.generator()?;
        let (encoder, origin) = load_encoder(path, self.burn_device())?;
        inversion::check_pair(g, &encoder)?;
        self.encoder = Ok(super::LoadedEncoder {
            encoder,
            origin,
            path: path.map(Path::to_path_buf),
        });
        Ok(())
    }

    /// Why photos cannot be inverted, when they cannot.
    pub fn encoder_problem(&self) -> Option<&str> {
        self.encoder.as_ref().err().map(String::as_str)
    }

    /// The set in `path`, when it fits the generator; otherwise an error and the set in use
    /// stays.
    pub fn load_directions(&mut self, path: &Path) -> anyhow::Result<()> {
        let g = self.generator()?;
        let set = DirectionSet::load(path)?;
        set.check(g)?;
        self.set_directions(ActiveDirections {
            set,
            label: path.display().to_string(),
            path: Some(path.to_path_buf()),
        });
        Ok(())
    }

    /// The bundled set when it fits the generator, else SeFa directions of the generator.
    /// Returns why the bundled set was not used, when it was not.
    pub fn use_bundled_directions(&mut self) -> Option<String> {
        let problem = match bundled_directions() {
            Some(path) => match self.load_directions(&path) {
                Ok(()) => return None,
                Err(e) => e.to_string(),
            },
            None => "no bundled direction set".into(),
        };
        if self.use_sefa(FALLBACK_SEFA).is_err() {
            self.directions = None;
        }
        Some(problem)
    }

    /// The first `count` SeFa directions of the generator (over all w+ entries).
    pub fn use_sefa(&mut self, count: usize) -> anyhow::Result<()> {
        let method = super::DirectionMethod::Sefa {
            layers: None,
            count,
        };
        let computed = self
            .prepare_directions(method)?
            .run(&crate::pti::CancelToken::default(), |_| {})?;
        self.use_computed_directions(computed)
    }

    /// Makes a set used before the active one again (undo of a set change); refused, with the
    /// set in use kept, when it does not fit the generator loaded now.
    pub fn use_directions(&mut self, directions: ActiveDirections) -> anyhow::Result<()> {
        directions
            .set
            .check(self.generator()?)
            .context("that direction set does not fit the generator loaded since")?;
        self.set_directions(directions);
        Ok(())
    }

    /// A new set: the sliders of every photo start at 0 (values belong to directions).
    pub(super) fn set_directions(&mut self, directions: ActiveDirections) {
        let n = directions.set.directions.len();
        for p in self.photos.iter_mut() {
            p.sliders = vec![0.0; n];
        }
        self.directions = Some(directions);
    }
}
