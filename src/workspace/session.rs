//! Session files (`.facestyle`): one safetensors file whose metadata holds a JSON manifest —
//! the open photos (absolute path, path relative to the session, content digest, framing,
//! face, slider values), the generator/encoder/directions they belong to — and whose tensors
//! hold each photo's codes and each personalization as a [`GeneratorDelta`] against the base
//! generator. A session made for another generator is refused, never applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::Workspace;
use super::delta::GeneratorDelta;
use super::photo::{FaceChoice, OpenPhoto, Personalization, PhotoId, file_digest, reframe};
use crate::edit::Codes;
use crate::edit::directions::DirectionSet;
use crate::face::{Aligned, Framing};
use crate::imaging::rgb_images_to_tensor;
use crate::model::Generator;
use crate::model::loader::{tensor_from_vec, tensor_to_vec};
use crate::weights::{self, DType, StoredTensor, TensorStore};

/// Metadata key of the manifest.
const MANIFEST_KEY: &str = "facestyle_session";
/// Prefix of the tensors of a direction set stored inside the session.
const SET_PREFIX: &str = "set.";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Manifest {
    version: u32,
    /// Content digest of the base generator and its file (`None`: the bundled model).
    generator_id: String,
    generator_path: Option<PathBuf>,
    encoder_path: Option<PathBuf>,
    directions: DirectionsEntry,
    photos: Vec<PhotoEntry>,
    tunings: Vec<TuningEntry>,
}

#[derive(Serialize, Deserialize)]
struct DirectionsEntry {
    label: String,
    path: Option<PathBuf>,
    count: usize,
}

#[derive(Serialize, Deserialize)]
struct PhotoEntry {
    path: PathBuf,
    /// The path relative to the session file's folder, when the photo lies under it.
    relative: Option<PathBuf>,
    digest: String,
    center_crop: bool,
    faces_found: usize,
    face: usize,
    aligned: Option<Aligned>,
    k: usize,
    sliders: Vec<f32>,
    /// Index into `tunings` when the photo is personalized.
    tuning: Option<usize>,
}

#[derive(Serialize, Deserialize)]
struct TuningEntry {
    steps: usize,
    seconds: f64,
    perceptual: String,
    /// The generator tensors tuning changed (stored as `tuning.T.KEY`).
    changed: Vec<String>,
}

/// What saving a session wrote.
#[derive(Debug, Clone)]
pub struct SessionSaved {
    pub photos: usize,
    pub bytes: u64,
    /// Bytes of each personalization (the delta against the base generator).
    pub tuning_bytes: Vec<usize>,
}

/// What loading a session restored, and what it could not.
#[derive(Debug, Clone, Default)]
pub struct SessionLoaded {
    pub photos: Vec<PhotoId>,
    /// One line per photo or setting that could not be restored.
    pub warnings: Vec<String>,
}

impl Workspace {
    /// Writes the open photos, their codes, sliders and personalizations to `path` (atomically).
    pub fn save_session(&self, path: &Path) -> anyhow::Result<SessionSaved> {
        let loaded = self.generator.as_ref().context("no generator is loaded")?;
        let g = &loaded.generator;
        let folder = super::photo::absolute(path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut store = TensorStore::new(path);
        let mut tunings: Vec<(Arc<Generator>, TuningEntry)> = Vec::new();
        let base_store = self
            .photos
            .iter()
            .any(|p| p.personalization.is_some())
            .then(|| g.to_store());
        let mut photos = Vec::new();
        for (i, p) in self.photos.iter().enumerate() {
            let put = |store: &mut TensorStore, name: &str, dims: Vec<usize>, v: Vec<f32>| {
                store.insert_f32(format!("photo.{i}.{name}"), dims, &v)
            };
            put(
                &mut store,
                "wplus",
                p.codes.wplus.dims().to_vec(),
                tensor_to_vec(p.codes.wplus.clone()),
            );
            put(
                &mut store,
                "feature",
                p.codes.feature.dims().to_vec(),
                tensor_to_vec(p.codes.feature.clone()),
            );
            let tuning = match &p.personalization {
                None => None,
                Some(pers) => {
                    put(
                        &mut store,
                        "pivot",
                        pers.codes.wplus.dims().to_vec(),
                        tensor_to_vec(pers.codes.wplus.clone()),
                    );
                    let t = match tunings
                        .iter()
                        .position(|(g, _)| Arc::ptr_eq(g, &pers.generator))
                    {
                        Some(t) => t,
                        None => {
                            let base = base_store.as_ref().expect("made when any is tuned");
                            let delta = GeneratorDelta::between(base, &pers.generator.to_store())?;
                            let t = tunings.len();
                            for (key, bytes) in &delta.changed {
                                store.insert(
                                    format!("tuning.{t}.{key}"),
                                    StoredTensor {
                                        dtype: DType::U8,
                                        shape: vec![bytes.len()],
                                        bytes: bytes.clone(),
                                    },
                                );
                            }
                            tunings.push((
                                pers.generator.clone(),
                                TuningEntry {
                                    steps: pers.steps,
                                    seconds: pers.seconds,
                                    perceptual: pers.perceptual.clone(),
                                    changed: delta.changed.keys().cloned().collect(),
                                },
                            ));
                            t
                        }
                    };
                    Some(t)
                }
            };
            photos.push(PhotoEntry {
                path: p.path.clone(),
                relative: p.path.strip_prefix(&folder).ok().map(Path::to_path_buf),
                digest: p.digest.clone(),
                center_crop: p.framing == Framing::CenterCrop,
                faces_found: p.face.found,
                face: p.face.index,
                aligned: p.face.aligned.clone(),
                k: p.codes.k,
                sliders: p.sliders.clone(),
                tuning,
            });
        }
        let tuning_bytes = (0..tunings.len())
            .map(|t| {
                let prefix = format!("tuning.{t}.");
                store
                    .tensors
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(_, v)| v.bytes.len())
                    .sum()
            })
            .collect();
        let directions = self.directions.as_ref();
        // a set with no file (computed here) travels inside the session
        if let Some(d) = directions.filter(|d| d.path.is_none()) {
            let set = d.set.to_store(path);
            for (k, t) in set.tensors {
                store.insert(format!("{SET_PREFIX}{k}"), t);
            }
            store.metadata.extend(set.metadata);
        }
        let manifest = Manifest {
            version: VERSION,
            generator_id: g.identity.clone(),
            generator_path: loaded.path.clone(),
            encoder_path: self.encoder.as_ref().ok().and_then(|e| e.path.clone()),
            directions: DirectionsEntry {
                label: directions.map(|d| d.label.clone()).unwrap_or_default(),
                path: directions.and_then(|d| d.path.clone()),
                count: directions.map_or(0, |d| d.set.directions.len()),
            },
            photos,
            tunings: tunings.into_iter().map(|(_, e)| e).collect(),
        };
        store
            .metadata
            .insert(MANIFEST_KEY.into(), serde_json::to_string(&manifest)?);
        weights::write_safetensors(&store, path)?;
        Ok(SessionSaved {
            photos: self.photos.len(),
            bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            tuning_bytes,
        })
    }

    /// Opens the session in `path`: its photos are added to the open ones. The loaded
    /// generator must be the session's (if not, the session's generator file is loaded when it
    /// is the same one); a photo that is missing or changed since is left out with a warning.
    pub fn load_session(&mut self, path: &Path) -> anyhow::Result<SessionLoaded> {
        let store = weights::read_safetensors(path)?;
        let manifest: Manifest = store
            .metadata
            .get(MANIFEST_KEY)
            .context("not a facestyle session (no manifest)")
            .and_then(|m| serde_json::from_str(m).context("the session's manifest is damaged"))
            .with_context(|| path.display().to_string())?;
        if manifest.version != VERSION {
            bail!(
                "{}: session version {} (this program reads {VERSION})",
                path.display(),
                manifest.version
            );
        }
        self.use_session_generator(&manifest)
            .with_context(|| path.display().to_string())?;
        let mut out = SessionLoaded::default();
        if self.encoder_path() != manifest.encoder_path.as_deref()
            && let Err(e) = self.load_encoder(manifest.encoder_path.as_deref())
        {
            out.warnings.push(format!("encoder: {e:#}"));
        }
        self.restore_directions(&manifest.directions, &store, &mut out);
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let side = self.photo_side()?;
        let mut tuned: BTreeMap<usize, Arc<Generator>> = BTreeMap::new();
        let mut tuned_with: BTreeMap<usize, Vec<PhotoId>> = BTreeMap::new();
        for (i, entry) in manifest.photos.iter().enumerate() {
            match self.restore_photo(&store, &manifest, i, entry, &folder, side, &mut tuned) {
                Ok(id) => {
                    if let Some(t) = entry.tuning {
                        tuned_with.entry(t).or_default().push(id);
                    }
                    out.photos.push(id);
                }
                Err(e) => out
                    .warnings
                    .push(format!("{}: {e:#}", entry.path.display())),
            }
        }
        for (_, ids) in tuned_with {
            for &id in &ids {
                if let Some(p) = self.photo_mut(id)?.personalization.as_mut() {
                    p.tuned_with = ids.clone();
                }
            }
        }
        Ok(out)
    }

    fn encoder_path(&self) -> Option<&Path> {
        self.encoder.as_ref().ok().and_then(|e| e.path.as_deref())
    }

    /// Makes the session's generator the loaded one, or says why it cannot: with photos of
    /// another generator open, a session of a different generator is refused (loading it
    /// would close them); otherwise its generator file is loaded when it still holds the same
    /// generator.
    fn use_session_generator(&mut self, manifest: &Manifest) -> anyhow::Result<()> {
        let loaded_id = self
            .generator
            .as_ref()
            .map(|g| g.generator.identity.clone());
        if loaded_id.as_deref() == Some(manifest.generator_id.as_str()) {
            return Ok(());
        }
        let wanted = format!(
            "this session belongs to generator {} ({})",
            manifest.generator_id,
            describe(manifest.generator_path.as_deref())
        );
        if !self.photos.is_empty() {
            bail!(
                "{wanted}, not to the loaded generator {}: close the open photos or open that generator first",
                loaded_id.unwrap_or_default()
            );
        }
        let (candidate, _) = crate::model_source::load_generator(
            manifest.generator_path.as_deref(),
            self.burn_device(),
        )
        .with_context(|| format!("{wanted}, which cannot be loaded"))?;
        if candidate.identity != manifest.generator_id {
            bail!(
                "{wanted}, but that file now holds generator {}; the session is not applied to another generator",
                candidate.identity
            );
        }
        self.load_generator(manifest.generator_path.as_deref())?;
        Ok(())
    }

    fn restore_directions(
        &mut self,
        d: &DirectionsEntry,
        store: &TensorStore,
        out: &mut SessionLoaded,
    ) {
        let current = self
            .directions
            .as_ref()
            .map(|a| (a.label.clone(), a.set.directions.len()));
        if current == Some((d.label.clone(), d.count)) {
            return;
        }
        let result = match &d.path {
            Some(p) => self.load_directions(p),
            None => DirectionSet::from_store(&store.strip_prefix(SET_PREFIX))
                .map_err(anyhow::Error::from)
                .and_then(|set| {
                    set.check(self.generator()?)?;
                    self.set_directions(super::ActiveDirections {
                        set,
                        label: d.label.clone(),
                        path: None,
                    });
                    Ok(())
                }),
        };
        if let Err(e) = result {
            out.warnings.push(format!(
                "directions ({}): {e:#}; slider values were dropped",
                d.label
            ));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn restore_photo(
        &mut self,
        store: &TensorStore,
        manifest: &Manifest,
        i: usize,
        entry: &PhotoEntry,
        folder: &Path,
        side: u32,
        tuned: &mut BTreeMap<usize, Arc<Generator>>,
    ) -> anyhow::Result<PhotoId> {
        // a generated face (no file) is drawn again from its codes
        let path = if entry.digest.is_empty() {
            None
        } else {
            let path = [
                Some(entry.path.clone()),
                entry.relative.as_ref().map(|r| folder.join(r)),
            ]
            .into_iter()
            .flatten()
            .find(|p| p.exists())
            .context("the photo file is missing")?;
            if file_digest(&path)? != entry.digest {
                bail!("the photo changed since the session was saved; open it again");
            }
            Some(path)
        };
        let device = self.burn_device().clone();
        let g = self.generator()?;
        if entry.k != self.encoder()?.config.k {
            bail!(
                "codes injected at layer {} do not fit the encoder in use (K = {})",
                entry.k,
                self.encoder()?.config.k
            );
        }
        let codes_of = |name: &str| -> anyhow::Result<burn::tensor::Tensor<3>> {
            let dims = [1, g.config.n_latent(), g.config.style_dim];
            let key = format!("photo.{i}.{name}");
            Ok(tensor_from_vec(store.f32(&key, &dims)?, dims, &device))
        };
        let [c, r] = g.config.feature_shape(entry.k);
        let fdims = [1, c, r, r];
        let feature = tensor_from_vec(
            store.f32(&format!("photo.{i}.feature"), &fdims)?,
            fdims,
            &device,
        );
        let codes = Codes {
            wplus: codes_of("wplus")?,
            feature,
            k: entry.k,
        };
        let personalization = match entry.tuning {
            None => None,
            Some(t) => {
                let info = manifest
                    .tunings
                    .get(t)
                    .context("the session's tuning list is damaged")?;
                let generator = match tuned.get(&t) {
                    Some(g) => g.clone(),
                    None => {
                        let tg = Arc::new(tuned_generator(store, t, info, g)?);
                        tuned.insert(t, tg.clone());
                        tg
                    }
                };
                let wplus = codes_of("pivot")?;
                let feature = generator.feature_at(
                    wplus.clone(),
                    &crate::model::NoiseMode::Stored,
                    entry.k,
                )?;
                Some(Personalization {
                    generator,
                    codes: Codes {
                        wplus,
                        feature,
                        k: entry.k,
                    },
                    tuned_with: Vec::new(),
                    steps: info.steps,
                    seconds: info.seconds,
                    perceptual: info.perceptual.clone(),
                    residual: Default::default(),
                })
            }
        };
        let (target, aligned, path) = match path {
            Some(path) => {
                let framed = reframe(&path, side, entry.aligned.as_ref())?;
                let (_, target) = crate::edit::inversion::split_framed(
                    g,
                    self.encoder()?,
                    rgb_images_to_tensor(std::slice::from_ref(&framed.crop), &device),
                );
                (target, framed.aligned, super::photo::absolute(&path))
            }
            None => (
                crate::edit::inversion::reconstruct(g, &codes, &self.noise)?,
                None,
                entry.path.clone(),
            ),
        };
        let n = self.slider_count();
        let id = self.add_photo(OpenPhoto {
            id: PhotoId(0),
            path,
            digest: entry.digest.clone(),
            framing: if entry.center_crop {
                Framing::CenterCrop
            } else {
                Framing::Auto
            },
            face: FaceChoice {
                found: entry.faces_found,
                index: entry.face,
                aligned,
            },
            target: Some(target),
            codes,
            sliders: sliders_or_zero(&entry.sliders, n),
            personalization,
            residual: Default::default(),
        });
        Ok(id)
    }
}

fn sliders_or_zero(stored: &[f32], n: usize) -> Vec<f32> {
    if stored.len() == n && stored.iter().all(|v| v.is_finite()) {
        stored.to_vec()
    } else {
        vec![0.0; n]
    }
}

/// The base generator with personalization `t` of the session applied.
fn tuned_generator(
    store: &TensorStore,
    t: usize,
    info: &TuningEntry,
    base: &Generator,
) -> anyhow::Result<Generator> {
    let mut delta = GeneratorDelta {
        changed: BTreeMap::new(),
    };
    for key in &info.changed {
        let stored = store.get(&format!("tuning.{t}.{key}"))?;
        if stored.dtype != DType::U8 {
            bail!("tuning.{t}.{key} is not bytes");
        }
        delta.changed.insert(key.clone(), stored.bytes.clone());
    }
    let tuned = delta.apply(&base.to_store())?;
    Ok(Generator::load(&tuned, &base.device())?)
}

fn describe(path: Option<&Path>) -> String {
    path.map(|p| p.display().to_string())
        .unwrap_or_else(|| "the bundled model".into())
}
