//! The background worker: owns the compute device and the models; the UI only sends
//! [`Request`]s and receives [`Event`]s, so it never waits on the model.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::messages::{Event, Frame, Inversion, RenderParams, Request};
use crate::device::{ComputeDevice, DeviceChoice};
use crate::edit::Codes;
use crate::edit::directions::{DirectionSet, sefa};
use crate::edit::{feature_edit, inversion};
use crate::face::{FaceDetector, Framing, Quad, frame, paste_back};
use crate::imaging::{load_photo, rgb_images_to_tensor, tensor_to_rgb_images};
use crate::metrics::quality;
use crate::model::encoder::FeatureStyleEncoder;
use crate::model::{Generator, NoiseMode};
use crate::model_source::{
    PerceptualChoice, bundled_directions, load_encoder, load_face_detector, load_generator,
    load_perceptual,
};
use crate::pti::{CancelToken, TuningConfig, pivotal_tuning};

/// Handle of a running engine thread.
pub struct Engine {
    pub requests: Sender<Request>,
    pub events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
    /// The cancel token of the personalization running now, so dropping the engine (closing
    /// the window) stops it instead of waiting for it.
    running_job: Arc<Mutex<Option<CancelToken>>>,
}

impl Engine {
    /// Starts the worker; `wake` is called after each event (e.g. to repaint the UI).
    pub fn spawn(choice: DeviceChoice, wake: impl Fn() + Send + 'static) -> Self {
        let (req_tx, req_rx) = crossbeam_channel::unbounded();
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        let running_job = Arc::new(Mutex::new(None));
        let job = running_job.clone();
        let thread = std::thread::Builder::new()
            .name("facestyle-engine".into())
            .spawn(move || {
                let send = |e: Event| {
                    let _ = ev_tx.send(e);
                    wake();
                };
                let mut worker = Worker::start(choice, &send);
                worker.running_job = job;
                worker.run(&req_rx, &send);
            })
            .expect("spawning the engine thread");
        Self {
            requests: req_tx,
            events: ev_rx,
            thread: Some(thread),
            running_job,
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(job) = self
            .running_job
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            job.cancel();
        }
        let _ = self.requests.send(Request::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Worker {
    device: ComputeDevice,
    generator: Option<Generator>,
    /// The encoder that fits the generator, or why there is none.
    encoder: Result<FeatureStyleEncoder, String>,
    directions: Option<DirectionSet>,
    /// Codes of the last inverted photo: what the sliders edit.
    codes: Option<Codes>,
    /// The last inverted photo and its target tensor (what personalization reproduces).
    photo: Option<(std::path::PathBuf, burn::tensor::Tensor<4>)>,
    /// The generator as it was before personalization, for "Revert".
    original: Option<Generator>,
    /// Finds and aligns faces in dropped photos (absent if its weights are missing).
    detector: Option<FaceDetector>,
    /// The crop square of the last photo, for paste-back.
    alignment: Option<Quad>,
    /// Faces found in the last photo and the one in use.
    face: (usize, usize),
    /// The generator file in use (`None`: the bundled model), to reload after a failure.
    generator_path: Option<std::path::PathBuf>,
    /// Shared with [`Engine`]: the token of the personalization running now.
    running_job: Arc<Mutex<Option<CancelToken>>>,
}

/// What the request loop does after a request.
enum Flow {
    Continue,
    Stop,
}

/// The text of a caught panic.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Unnamed SeFa directions offered when no named set fits the generator.
const FALLBACK_SEFA: usize = 8;

impl Worker {
    fn start(choice: DeviceChoice, send: &dyn Fn(Event)) -> Self {
        let device = ComputeDevice::select(choice);
        let mut w = Self {
            device,
            generator: None,
            encoder: Err("no generator is loaded".into()),
            directions: None,
            codes: None,
            photo: None,
            original: None,
            detector: None,
            alignment: None,
            face: (0, 0),
            generator_path: None,
            running_job: Arc::new(Mutex::new(None)),
        };
        match load_face_detector(&w.device.device) {
            Ok(d) => w.detector = Some(d),
            Err(e) => send(Event::Error(format!("photos will be centre-cropped: {e}"))),
        }
        w.load(None, send);
        w
    }

    /// Loads the generator in `path` (else the bundled one) and the encoder that fits it;
    /// on failure the models in use stay. Returns whether it loaded.
    fn load_models(&mut self, path: Option<&std::path::Path>, send: &dyn Fn(Event)) -> bool {
        match load_generator(path, &self.device.device) {
            Ok((g, origin)) => {
                self.encoder = load_encoder(None, &self.device.device)
                    .map_err(|e| e.to_string())
                    .and_then(|(e, _)| {
                        inversion::check_pair(&g, &e)
                            .map(|_| e)
                            .map_err(|e| e.to_string())
                    });
                send(Event::Ready {
                    device: self.device.to_string(),
                    origin,
                    config: g.config.clone(),
                });
                self.original = None;
                self.generator = Some(g);
                self.generator_path = path.map(std::path::Path::to_path_buf);
                true
            }
            Err(e) => {
                send(Event::Error(e.to_string()));
                false
            }
        }
    }

    /// A new generator: what was made for the previous one (codes, sliders) is cleared.
    fn load(&mut self, path: Option<&std::path::Path>, send: &dyn Fn(Event)) {
        if self.load_models(path, send) {
            self.codes = None;
            self.photo = None;
            self.use_directions(bundled_directions().as_deref(), send);
        }
    }

    /// The user's direction file: used when it fits the generator; otherwise the reason is
    /// said and the sliders in use stay as they are.
    fn open_directions(&mut self, path: &std::path::Path, send: &dyn Fn(Event)) {
        let Some(g) = &self.generator else {
            send(Event::Error("open a generator first".into()));
            return;
        };
        match DirectionSet::load(path).and_then(|s| s.check(g).map(|_| s)) {
            Ok(set) => {
                send(Event::Directions(
                    set.directions.iter().map(|d| d.info.clone()).collect(),
                    path.display().to_string(),
                ));
                self.directions = Some(set);
            }
            Err(e) => send(Event::Error(format!("{e}; the current sliders are kept"))),
        }
    }

    /// Takes the set in `path` when it fits the generator, else SeFa directions of it.
    fn use_directions(&mut self, path: Option<&std::path::Path>, send: &dyn Fn(Event)) {
        let Some(g) = &self.generator else { return };
        let loaded = path.map(|p| DirectionSet::load(p).and_then(|s| s.check(g).map(|_| s)));
        let (set, label) = match loaded {
            Some(Ok(set)) => (
                set,
                path.map(|p| p.display().to_string()).unwrap_or_default(),
            ),
            other => {
                if let Some(Err(e)) = other {
                    send(Event::Error(e.to_string()));
                }
                let (dirs, _) = sefa::sefa(g, 0..g.config.n_latent(), FALLBACK_SEFA);
                let mut set = DirectionSet::for_generator(g);
                for d in dirs {
                    set.push(d).expect("SeFa directions fit their generator");
                }
                (set, "unnamed SeFa directions of this generator".into())
            }
        };
        send(Event::Directions(
            set.directions.iter().map(|d| d.info.clone()).collect(),
            label,
        ));
        self.directions = Some(set);
    }

    /// Handles requests in order; of the renders waiting at one time only the newest is
    /// drawn (slider drags coalesce instead of queueing up). Every request runs under
    /// `catch_unwind`: a panic becomes an error event naming the action, the models are
    /// reloaded and the photo, its codes and the sliders are kept.
    fn run(mut self, rx: &Receiver<Request>, send: &dyn Fn(Event)) {
        while let Ok(first) = rx.recv() {
            let mut pending = vec![first];
            pending.extend(rx.try_iter());
            let newest_render = pending
                .iter()
                .rposition(|r| matches!(r, Request::Render { .. }));
            let newest_edit = pending
                .iter()
                .rposition(|r| matches!(r, Request::Edit { .. }));
            for (i, req) in pending.into_iter().enumerate() {
                let stale = match req {
                    Request::Render { .. } => Some(i) != newest_render,
                    Request::Edit { .. } => Some(i) != newest_edit,
                    _ => false,
                };
                if stale {
                    continue;
                }
                let action = req.action();
                match catch_unwind(AssertUnwindSafe(|| self.handle(req, send))) {
                    Ok(Flow::Stop) => return,
                    Ok(Flow::Continue) => {}
                    Err(payload) => self.recover(action, &panic_message(payload.as_ref()), send),
                }
            }
        }
    }

    fn handle(&mut self, req: Request, send: &dyn Fn(Event)) -> Flow {
        match req {
            Request::Shutdown => return Flow::Stop,
            Request::LoadGenerator(path) => self.load(Some(&path), send),
            Request::Edit { sliders, id } => match self.edit(&sliders, id) {
                Ok(frame) => send(Event::Edited(frame)),
                Err(e) => send(Event::Error(e)),
            },
            Request::LoadDirections(path) => self.open_directions(&path, send),
            Request::Personalize { steps, cancel } => {
                *self.running_job.lock().unwrap_or_else(|p| p.into_inner()) = Some(cancel.clone());
                self.personalize(steps, &cancel, send);
                *self.running_job.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
            Request::Revert => self.revert(send),
            Request::LoadEncoder(path) => self.load_encoder(&path, send),
            Request::ExportFull { face, path } => match self.export_full(&face, &path) {
                Ok(()) => send(Event::Notice(format!("saved {}", path.display()))),
                Err(e) => send(Event::Error(e)),
            },
            Request::Render { params, id } => match self.render(params, id) {
                Ok(frame) => send(Event::Frame(params, frame)),
                Err(e) => send(Event::Error(e)),
            },
            Request::Invert { photo, face } => match self.invert(&photo, face) {
                Ok(inv) => send(Event::Inverted(Box::new(inv))),
                Err(e) => send(Event::Error(e)),
            },
            Request::InjectFault => panic!("fault injected by a test"),
        }
        Flow::Continue
    }

    /// After a panic: the models are loaded again from their files (a failure may have left
    /// them half-changed), the photo, its codes, alignment and the sliders' set are kept;
    /// a personalization in progress or done is lost, and the UI is told so.
    fn recover(&mut self, action: &str, message: &str, send: &dyn Fn(Event)) {
        *self.running_job.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let was_personalized = self.original.is_some();
        let path = self.generator_path.clone();
        let reloaded = catch_unwind(AssertUnwindSafe(|| self.load_models(path.as_deref(), send)));
        if !matches!(reloaded, Ok(true)) {
            // nothing trustworthy is left: start over without a photo
            self.generator = None;
            self.codes = None;
            self.photo = None;
        } else if was_personalized && let Some((photo, _)) = self.photo.clone() {
            // the codes' F was made for the tuned generator: invert the photo again
            match self.invert(&photo, self.face.1) {
                Ok(inv) => send(Event::Inverted(Box::new(inv))),
                Err(e) => send(Event::Error(e)),
            }
        }
        if was_personalized {
            send(Event::Unpersonalized);
        }
        send(Event::Error(format!(
            "{action} failed unexpectedly ({message}); the models were reloaded and your photo and sliders kept"
        )));
    }

    fn render(&self, params: RenderParams, id: u64) -> Result<Frame, String> {
        let g = self.generator.as_ref().ok_or("no generator is loaded")?;
        let start = Instant::now();
        let avg = g.truncation_latent();
        let w = g.truncate(g.map(g.seeded_z(params.seed, 1)), params.truncation, &avg);
        let out = g
            .synthesize(g.broadcast(w), &NoiseMode::Stored, None, &[])
            .map_err(|e| e.to_string())?;
        let img = tensor_to_rgb_images(out.image).remove(0);
        Ok(Frame::from_rgb(
            id,
            img,
            start.elapsed().as_secs_f64() * 1000.0,
        ))
    }

    fn edit(&self, sliders: &[(usize, f32)], id: u64) -> Result<Frame, String> {
        let g = self.generator.as_ref().ok_or("no generator is loaded")?;
        let codes = self.codes.as_ref().ok_or("invert a photo first")?;
        let set = self.directions.as_ref().ok_or("no directions are loaded")?;
        let start = Instant::now();
        let w = set
            .apply(g, codes.wplus.clone(), sliders)
            .map_err(|e| e.to_string())?;
        let img = feature_edit::edited_image(g, codes, w, &NoiseMode::Stored)
            .map_err(|e| e.to_string())?;
        Ok(Frame::from_rgb(
            id,
            tensor_to_rgb_images(img).remove(0),
            start.elapsed().as_secs_f64() * 1000.0,
        ))
    }

    /// Frames and encodes a photo; its codes become the ones the sliders edit.
    fn invert(&mut self, photo: &std::path::Path, face: usize) -> Result<Inversion, String> {
        let g = self.generator.as_ref().ok_or("no generator is loaded")?;
        let e = self
            .encoder
            .as_ref()
            .map_err(|e| format!("cannot invert photos: {e}"))?;
        let img = load_photo(photo).map_err(|e| e.to_string())?;
        let framed = frame(
            &img,
            inversion::photo_side(g, e) as u32,
            Framing::Auto,
            self.detector.as_ref(),
            face,
        );
        let (input, x) = inversion::split_framed(
            g,
            e,
            rgb_images_to_tensor(std::slice::from_ref(&framed.crop), &self.device.device),
        );
        let codes = inversion::encode(g, e, input).map_err(|e| e.to_string())?;
        self.codes = Some(codes);
        self.photo = Some((photo.to_path_buf(), x));
        self.alignment = framed.aligned.map(|a| a.quad);
        self.face = (framed.faces, framed.face);
        self.current_inversion()
    }

    /// Tunes the generator to the inverted photo; on success the photo's feature code becomes
    /// the tuned generator's own activation (so G(w, F) = G_tuned(w) and Eq. 1 edits follow
    /// the tuned generator), and every pane uses the tuned generator.
    fn personalize(&mut self, steps: usize, cancel: &CancelToken, send: &dyn Fn(Event)) {
        let result = (|| -> Result<(), String> {
            let g = self.generator.as_ref().ok_or("no generator is loaded")?;
            let codes = self.codes.as_ref().ok_or("invert a photo first")?;
            let (_, target) = self.photo.as_ref().ok_or("invert a photo first")?;
            let perceptual = load_perceptual(PerceptualChoice::Auto, &self.device.device)
                .unwrap_or(crate::pti::Perceptual::None);
            let config = TuningConfig {
                steps,
                ..TuningConfig::default()
            };
            let tuned =
                pivotal_tuning(g, &codes.wplus, target, &perceptual, &config, cancel, |p| {
                    send(Event::Tuning(p.clone()))
                })
                .map_err(|e| e.to_string())?;
            let feature = tuned
                .generator
                .feature_at(codes.wplus.clone(), &NoiseMode::Stored, codes.k)
                .map_err(|e| e.to_string())?;
            let previous = self
                .generator
                .replace(tuned.generator)
                .expect("checked above");
            self.original.get_or_insert(previous);
            if let Some(c) = self.codes.as_mut() {
                c.feature = feature;
            }
            send(Event::Personalized {
                steps: tuned.steps,
                seconds: tuned.seconds,
                perceptual: perceptual.name().to_string(),
            });
            send(Event::Inverted(Box::new(self.current_inversion()?)));
            Ok(())
        })();
        if let Err(e) = result {
            if cancel.is_cancelled() {
                send(Event::Notice(format!("personalization {e}")));
            } else {
                send(Event::Error(e));
            }
            send(Event::Unpersonalized);
        }
    }

    /// The photo pane for the current photo, codes and generator.
    fn current_inversion(&self) -> Result<Inversion, String> {
        let g = self.generator.as_ref().ok_or("no generator is loaded")?;
        let codes = self.codes.as_ref().ok_or("invert a photo first")?;
        let (photo, target) = self.photo.as_ref().ok_or("invert a photo first")?;
        let start = Instant::now();
        let recon =
            inversion::reconstruct(g, codes, &NoiseMode::Stored).map_err(|e| e.to_string())?;
        let recon = tensor_to_rgb_images(recon).remove(0);
        let target = tensor_to_rgb_images(target.clone()).remove(0);
        let millis = start.elapsed().as_secs_f64() * 1000.0;
        Ok(Inversion {
            aligned: self.alignment.is_some(),
            faces: self.face.0,
            face: self.face.1,
            photo: photo.clone(),
            quality: quality(&recon, &target),
            input: Frame::from_rgb(0, target, millis),
            reconstruction: Frame::from_rgb(0, recon, millis),
        })
    }

    fn load_encoder(&mut self, path: &std::path::Path, send: &dyn Fn(Event)) {
        let Some(g) = &self.generator else { return };
        match load_encoder(Some(path), &self.device.device)
            .map_err(|e| e.to_string())
            .and_then(|(e, _)| {
                inversion::check_pair(g, &e)
                    .map(|_| e)
                    .map_err(|e| e.to_string())
            }) {
            Ok(e) => {
                self.encoder = Ok(e);
                send(Event::Notice(format!("encoder: {}", path.display())));
            }
            Err(e) => send(Event::Error(e)),
        }
    }

    fn export_full(&self, face: &Frame, path: &std::path::Path) -> Result<(), String> {
        let (photo, _) = self.photo.as_ref().ok_or("invert a photo first")?;
        let quad = self
            .alignment
            .as_ref()
            .ok_or("no face was aligned in this photo: export the crop instead")?;
        let original = load_photo(photo).map_err(|e| e.to_string())?;
        let face = face
            .to_rgba_image()
            .ok_or("frame buffer has the wrong size")?;
        let face = image::DynamicImage::ImageRgba8(face).into_rgb8();
        crate::safe_write::save_image(&paste_back(&original, &face, quad), path)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    fn revert(&mut self, send: &dyn Fn(Event)) {
        if let Some(original) = self.original.take() {
            self.generator = Some(original);
            if let Some((photo, _)) = self.photo.clone() {
                match self.invert(&photo, self.face.1) {
                    Ok(inv) => send(Event::Inverted(Box::new(inv))),
                    Err(e) => send(Event::Error(e)),
                }
            }
        }
        send(Event::Unpersonalized);
    }
}
