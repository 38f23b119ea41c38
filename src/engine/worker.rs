//! The background worker: owns the compute device and the models; the UI only sends
//! [`Request`]s and receives [`Event`]s, so it never waits on the model.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// Frames from a slider's minimum to its maximum in an exported sweep clip.
const SWEEP_FRAMES: usize = 24;

use anyhow::Context;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::messages::{Event, ExportKind, FinishedJob, Frame, MixFrames, PhotoView, Request};
use crate::device::{ComputeDevice, DeviceChoice, on_compute_threads, on_own_compute_threads};
use crate::face::Framing;
use crate::pti::{CancelToken, TuningConfig};
use crate::workspace::personalize::JobProgress;
use crate::workspace::{
    ActiveDirections, Personalization, PersonalizeSettings, PhotoId, PivotSource, SeedFace,
    Workspace,
};

/// Direction sets replaced by another that undo can bring back (small: a few KB each).
const KEPT_SETS: usize = 8;
/// Reverted personalizations that undo can bring back (each holds a tuned generator).
const KEPT_TUNINGS: usize = 4;
/// How long the engine waits without a request before it gives kept buffers back.
const KEEP_WHILE_BUSY: std::time::Duration = std::time::Duration::from_secs(2);

/// Handle of a running engine thread.
pub struct Engine {
    pub requests: Sender<Request>,
    pub events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
    /// The personalization running now, so dropping the engine (closing the window) stops it
    /// instead of waiting for it.
    running_job: RunningJob,
}

/// The cancel token of the job the worker is running, shared by the worker and its handle.
#[derive(Clone, Default)]
struct RunningJob(Arc<Mutex<Option<CancelToken>>>);

impl RunningJob {
    fn set(&self, job: Option<CancelToken>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = job;
    }
    fn cancel(&self) {
        if let Some(job) = self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            job.cancel();
        }
    }
}

impl Engine {
    /// Starts the worker; `wake` is called after each event (e.g. to repaint the UI).
    pub fn spawn(choice: DeviceChoice, wake: impl Fn() + Send + Sync + 'static) -> Self {
        let (req_tx, req_rx) = crossbeam_channel::unbounded();
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded();
        let running_job = RunningJob::default();
        let job = running_job.clone();
        let own_tx = req_tx.clone();
        let thread = std::thread::Builder::new()
            .name("facestyle-engine".into())
            .spawn(move || {
                let events = Events {
                    tx: ev_tx,
                    wake: Arc::new(wake),
                };
                Worker::start(choice, job, own_tx, events).run(&req_rx);
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
        self.running_job.cancel();
        let _ = self.requests.send(Request::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sends events to the UI and wakes it; cloned into the personalization thread.
#[derive(Clone)]
struct Events {
    tx: Sender<Event>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl Events {
    fn send(&self, e: Event) {
        let _ = self.tx.send(e);
        (self.wake)();
    }
}

/// The request loop over one [`Workspace`]: every request is a workspace method.
struct Worker {
    workspace: Workspace,
    /// The id of the active direction set, the next new set's, and the sets it replaced.
    set_id: u64,
    next_set_id: u64,
    kept_sets: Vec<(u64, ActiveDirections)>,
    /// Personalizations taken away by a revert, newest last (what undo puts back).
    kept_tunings: Vec<Vec<(PhotoId, Personalization)>>,
    /// Shared with [`Engine`]: the token of the personalization running now.
    running_job: RunningJob,
    /// The engine's own request queue: a personalization thread posts its end here.
    requests: Sender<Request>,
    events: Events,
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

/// Runs `work` on a thread of its own named `name` (its parallel loops on a pool of their own,
/// `on_own_compute_threads`); a panic in it becomes an error saying
/// `what` failed; `done` gets the result on that thread.
fn spawn_job<T: Send>(
    name: &str,
    what: &'static str,
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    done: impl FnOnce(anyhow::Result<T>) + Send + 'static,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| on_own_compute_threads(work)));
            let result = result.unwrap_or_else(|payload| {
                Err(anyhow::anyhow!(
                    "{what} failed unexpectedly ({})",
                    panic_message(payload.as_ref())
                ))
            });
            done(result)
        })?;
    Ok(())
}

/// An error as one line: the message and its causes.
fn line(e: anyhow::Error) -> String {
    format!("{e:#}")
}

impl Worker {
    fn start(
        choice: DeviceChoice,
        running_job: RunningJob,
        requests: Sender<Request>,
        events: Events,
    ) -> Self {
        let mut w = Self {
            workspace: Workspace::new(ComputeDevice::select(choice)),
            set_id: 0,
            next_set_id: 0,
            kept_sets: Vec::new(),
            kept_tunings: Vec::new(),
            running_job,
            requests,
            events,
        };
        if let Err(e) = w.workspace.load_detector() {
            w.events
                .send(Event::Error(format!("photos will be centre-cropped: {e}")));
        }
        w.load(None);
        w
    }

    /// Loads the generator in `path` (else the bundled one) with the encoder and directions
    /// that fit it; on failure the models in use stay.
    fn load(&mut self, path: Option<&std::path::Path>) {
        let open: Vec<PhotoId> = self.workspace.photos().iter().map(|p| p.id).collect();
        let previous = self.workspace.directions().cloned();
        match self.workspace.load_generator(path) {
            Ok(closed) => {
                self.send_ready();
                for id in open {
                    if self.workspace.photo(id).is_err() {
                        self.events.send(Event::PhotoClosed(id));
                    }
                }
                if !closed.is_empty() {
                    self.events.send(Event::Notice(format!(
                        "closed {} (made for the previous generator)",
                        closed.join(", ")
                    )));
                }
                if let Some(problem) = self.workspace.encoder_problem() {
                    self.events
                        .send(Event::Error(format!("cannot invert photos: {problem}")));
                }
                self.announce_new_set(previous);
            }
            Err(e) => self.events.send(Event::Error(line(e))),
        }
    }

    fn send_ready(&self) {
        if let (Ok(g), Some(origin)) = (
            self.workspace.generator(),
            self.workspace.generator_origin(),
        ) {
            self.events.send(Event::Ready {
                device: self.workspace.device.to_string(),
                origin: origin.clone(),
                config: g.config.clone(),
            });
        }
    }

    fn send_directions(&self) {
        if let Some(d) = self.workspace.directions() {
            self.events.send(Event::Directions {
                infos: d.set.directions.iter().map(|d| d.info.clone()).collect(),
                label: d.label.clone(),
                set: self.set_id,
            });
        }
    }

    /// The active set replaced `previous`: that one is kept under its id (for undo, the last
    /// [`KEPT_SETS`]) and the new one is announced with a new id.
    fn announce_new_set(&mut self, previous: Option<ActiveDirections>) {
        if let Some(p) = previous {
            self.keep_set(p);
        }
        self.next_set_id += 1;
        self.set_id = self.next_set_id;
        self.send_directions();
    }

    fn keep_set(&mut self, set: ActiveDirections) {
        self.kept_sets.push((self.set_id, set));
        if self.kept_sets.len() > KEPT_SETS {
            self.kept_sets.remove(0);
        }
    }

    /// Makes the kept set `id` the active one again; the active one is kept in its place.
    fn use_kept_set(&mut self, id: u64) -> anyhow::Result<()> {
        let i = self
            .kept_sets
            .iter()
            .position(|(k, _)| *k == id)
            .with_context(|| {
                format!("that direction set is no longer kept (only the last {KEPT_SETS} are)")
            })?;
        let (_, set) = self.kept_sets.remove(i);
        let previous = self.workspace.directions().cloned();
        self.workspace
            .use_directions(set)
            .context("the current sliders are kept")?;
        if let Some(p) = previous {
            self.keep_set(p);
        }
        self.set_id = id;
        self.send_directions();
        Ok(())
    }

    /// Handles requests in order; of the renders, mixes and each photo's edits waiting at one
    /// time only the newest is drawn (slider drags coalesce instead of queueing up). Every
    /// request runs under `catch_unwind`: a panic becomes an error event naming the action, the
    /// models are reloaded and the open photos, their codes and sliders are kept.
    fn run(mut self, rx: &Receiver<Request>) {
        while let Some(first) = next_request(rx) {
            let mut pending = vec![first];
            pending.extend(rx.try_iter());
            let stale = superseded(&pending);
            for (i, req) in pending.into_iter().enumerate() {
                if stale[i] {
                    continue;
                }
                let action = req.action();
                match catch_unwind(AssertUnwindSafe(|| on_compute_threads(|| self.handle(req)))) {
                    Ok(Flow::Stop) => return,
                    Ok(Flow::Continue) => {}
                    Err(payload) => self.recover(action, &panic_message(payload.as_ref())),
                }
            }
        }
    }

    fn handle(&mut self, req: Request) -> Flow {
        // a failure of these is a photo that did not open (the UI stops waiting for it)
        let opens = matches!(
            req,
            Request::ChooseFace { .. }
                | Request::OpenOtherFaces(_)
                | Request::EditSeed(_)
                | Request::EditMixPane { .. }
        );
        let result = match req {
            Request::Shutdown => return Flow::Stop,
            Request::LoadGenerator(path) => {
                self.load(Some(&path));
                Ok(())
            }
            Request::LoadEncoder(path) => self.workspace.load_encoder(Some(&path)).map(|()| {
                self.events
                    .send(Event::Notice(format!("encoder: {}", path.display())));
            }),
            Request::LoadDirections(path) => {
                let previous = self.workspace.directions().cloned();
                self.workspace
                    .load_directions(&path)
                    .map(|()| self.announce_new_set(previous))
                    .map_err(|e| e.context("the current sliders are kept"))
            }
            Request::UseDirections(id) => self.use_kept_set(id),
            Request::OpenPhotos(paths) => self.open_photos(&paths),
            Request::ChooseFace { photo, face } => self.choose_face(photo, face),
            Request::OpenOtherFaces(photo) => self.open_other_faces(photo),
            Request::ClosePhoto(photo) => self.workspace.close_photo(photo).map(|()| {
                self.events.send(Event::PhotoClosed(photo));
            }),
            Request::EditSeed(params) => self
                .workspace
                .open_seed(&params)
                .and_then(|id| self.send_photo(id)),
            Request::EditMixPane { a, b, pane } => self
                .workspace
                .open_mix_pane(a, b, pane)
                .and_then(|id| self.send_photo(id)),
            Request::Edit {
                photo,
                sliders,
                id,
                preview,
            } => self.edit(photo, &sliders, id, preview),
            Request::Mix { a, b, layers, id } => self.mix(a, b, layers, id),
            Request::Personalize {
                photos,
                steps,
                cancel,
            } => self.personalize(photos, steps, cancel),
            Request::JobFinished(job) => self.finish_personalization(job),
            Request::Revert(photo) => self.revert(photo),
            Request::Restore(photo) => self.restore(photo),
            Request::Export { photo, kind, path } => match kind {
                ExportKind::EditedFace => self.workspace.export_edited(photo, &path),
                ExportKind::FullPhoto => self.workspace.export_full(photo, &path),
                ExportKind::Sweep { slider } => self
                    .workspace
                    .slider_range(slider)
                    .and_then(|range| {
                        self.workspace.export_sweep(
                            photo,
                            crate::workspace::Sweep::Slider {
                                index: slider,
                                range,
                            },
                            (SWEEP_FRAMES, 80),
                            false,
                            &path,
                        )
                    })
                    .map(|_| ()),
            }
            .map(|()| {
                self.events
                    .send(Event::Notice(format!("saved {}", path.display())))
            }),
            Request::SaveSession(path) => self.workspace.save_session(&path).map(|saved| {
                self.events.send(Event::Notice(format!(
                    "session saved: {} ({} photos, {:.1} MB)",
                    path.display(),
                    saved.photos,
                    saved.bytes as f64 / 1e6
                )))
            }),
            Request::OpenSession(path) => self.open_session(&path),
            Request::ExportAll { dir, cancel } => self.export_all(dir, cancel),
            Request::ApplyToVideo {
                photo,
                input,
                output,
                cancel,
            } => self.apply_to_video(photo, input, output, cancel),
            Request::ComputeDirections { method, cancel } => {
                self.compute_directions(method, cancel)
            }
            Request::DirectionsComputed(result) => self.take_directions(*result),
            Request::SaveDirections(path) => self.workspace.save_directions(&path).map(|()| {
                self.send_directions();
                self.events.send(Event::Notice(format!(
                    "directions saved: {}",
                    path.display()
                )));
            }),
            Request::Render { params, id } => self
                .render(params, id)
                .map(|frame| self.events.send(Event::Frame(params, frame))),
            Request::InjectFault => panic!("fault injected by a test"),
        };
        if let Err(e) = result {
            self.events.send(if opens {
                Event::PhotoFailed(line(e))
            } else {
                Event::Error(line(e))
            });
        }
        Flow::Continue
    }

    /// After a panic: the models are loaded again from their files (a failure may have left
    /// them half-changed); the workspace — photos, codes, sliders, personalizations — is kept.
    fn recover(&mut self, action: &str, message: &str) {
        self.running_job.set(None);
        let path = self
            .workspace
            .generator_path()
            .map(std::path::Path::to_path_buf);
        let reloaded = catch_unwind(AssertUnwindSafe(|| {
            self.workspace.load_generator(path.as_deref())
        }));
        let kept = matches!(&reloaded, Ok(Ok(closed)) if closed.is_empty());
        self.events.send(Event::Error(if kept {
            format!(
                "{action} failed unexpectedly ({message}); the models were reloaded and your photos and sliders kept"
            )
        } else {
            format!("{action} failed unexpectedly ({message}); the models could not be reloaded")
        }));
    }

    fn render(&self, params: SeedFace, id: u64) -> anyhow::Result<Frame> {
        let start = Instant::now();
        let img = self.workspace.render_face(&params)?;
        Ok(Frame::from_rgb(
            id,
            img,
            start.elapsed().as_secs_f64() * 1000.0,
        ))
    }

    fn open_photos(&mut self, paths: &[std::path::PathBuf]) -> anyhow::Result<()> {
        let mut failed = 0;
        for path in paths {
            match self
                .workspace
                .open_photo(path, Framing::Auto, 0)
                .and_then(|id| self.send_photo(id))
            {
                Ok(()) => {}
                Err(e) => {
                    failed += 1;
                    self.events.send(Event::PhotoFailed(format!(
                        "{}: {}",
                        path.display(),
                        line(e)
                    )));
                }
            }
        }
        if failed > 0 && paths.len() > 1 {
            self.events.send(Event::Notice(format!(
                "{} of {} photos could not be opened",
                failed,
                paths.len()
            )));
        }
        Ok(())
    }

    /// Another face of the same photo: opened as the same library entry's replacement.
    fn choose_face(&mut self, photo: PhotoId, face: usize) -> anyhow::Result<()> {
        let path = self.workspace.photo(photo)?.path.clone();
        let id = self.workspace.open_photo(&path, Framing::Auto, face)?;
        self.workspace.close_photo(photo)?;
        self.events.send(Event::PhotoClosed(photo));
        self.send_photo(id)?;
        Ok(())
    }

    /// Every face of a group photo but the one shown, as entries of their own.
    fn open_other_faces(&mut self, photo: PhotoId) -> anyhow::Result<()> {
        let p = self.workspace.photo(photo)?;
        let (path, found, shown) = (p.path.clone(), p.face.found, p.face.index);
        // each face that fails is said on its own (the UI waits for every one)
        for face in (0..found).filter(|f| *f != shown) {
            if let Err(e) = self
                .workspace
                .open_photo(&path, Framing::Auto, face)
                .and_then(|id| self.send_photo(id))
            {
                self.events.send(Event::PhotoFailed(format!(
                    "{}, face {}: {}",
                    path.display(),
                    face + 1,
                    line(e)
                )));
            }
        }
        Ok(())
    }

    fn edit(
        &mut self,
        photo: PhotoId,
        sliders: &[f32],
        id: u64,
        preview: bool,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        let pairs: Vec<(usize, f32)> = sliders.iter().copied().enumerate().collect();
        self.workspace.set_sliders(photo, &pairs)?;
        let img = self
            .workspace
            .edited_at(photo, preview.then_some(super::messages::PREVIEW_SIDE))?;
        let frame = Frame::from_rgb(id, img, start.elapsed().as_secs_f64() * 1000.0);
        self.events.send(Event::Edited {
            photo,
            frame,
            preview,
        });
        Ok(())
    }

    fn mix(
        &self,
        a: PhotoId,
        b: PhotoId,
        layers: std::ops::Range<usize>,
        id: u64,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        let panes = self.workspace.mix(a, b)?;
        let style_mix = self.workspace.style_mix(a, b, layers.clone())?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let f = |img: image::RgbImage| Frame::from_rgb(id, img, ms);
        self.events.send(Event::Mixed(Box::new(MixFrames {
            id,
            a,
            b,
            panes: [
                f(panes.a),
                f(panes.latent_b_feature_a),
                f(panes.latent_a_feature_b),
                f(panes.b),
            ],
            style_mix: f(style_mix),
            layers,
        })));
        Ok(())
    }

    /// Starts tuning on a thread of its own; the engine keeps answering (renders, edits of
    /// this and other photos) and gets the result as [`Request::JobFinished`].
    fn personalize(
        &mut self,
        photos: Vec<PhotoId>,
        steps: usize,
        cancel: CancelToken,
    ) -> anyhow::Result<()> {
        let settings = PersonalizeSettings {
            pivot: PivotSource::Encoder,
            tuning: TuningConfig {
                steps,
                ..TuningConfig::default()
            },
            ..PersonalizeSettings::default()
        };
        let job = match self.workspace.prepare_personalization(&photos, &settings) {
            Ok(job) => job,
            Err(e) => {
                self.events.send(Event::Unpersonalized(photos));
                return Err(e);
            }
        };
        self.running_job.set(Some(cancel.clone()));
        let progress = self.events.clone();
        let requests = self.requests.clone();
        let (tuned, token) = (photos.clone(), cancel.clone());
        spawn_job(
            "facestyle-personalize",
            "personalizing",
            move || {
                job.run(&token, |p| {
                    if let JobProgress::Tuning(t) = p {
                        progress.send(Event::Tuning {
                            photos: tuned.clone(),
                            progress: t.clone(),
                        });
                    }
                })
            },
            move |outcome| {
                let _ = requests.send(Request::JobFinished(Box::new(FinishedJob {
                    photos,
                    outcome,
                    cancel,
                })));
            },
        )?;
        Ok(())
    }

    fn finish_personalization(&mut self, job: Box<FinishedJob>) -> anyhow::Result<()> {
        self.running_job.set(None);
        let outcome = match job.outcome {
            Ok(o) => o,
            Err(e) => {
                if job.cancel.is_cancelled() {
                    self.events
                        .send(Event::Notice(format!("personalization {e:#}")));
                } else {
                    self.events.send(Event::Error(format!("{e:#}")));
                }
                self.events.send(Event::Unpersonalized(job.photos));
                return Ok(());
            }
        };
        let (steps, seconds) = (outcome.steps, outcome.seconds_tuning);
        let perceptual = outcome.perceptual.to_string();
        let tuned = self.workspace.finish_personalization(outcome)?;
        self.events.send(Event::Personalized {
            photos: tuned.clone(),
            steps,
            seconds,
            perceptual,
        });
        for id in tuned {
            self.send_photo(id)?;
        }
        Ok(())
    }

    /// Writes every photo's edits on a thread of its own.
    fn export_all(&mut self, dir: std::path::PathBuf, cancel: CancelToken) -> anyhow::Result<()> {
        let job = self.workspace.prepare_export_all(&dir)?;
        let (events, progress) = (self.events.clone(), self.events.clone());
        let token = cancel.clone();
        spawn_job(
            "facestyle-export",
            "exporting",
            move || {
                job.run(&token, |done, n| {
                    progress.send(Event::Progress {
                        task: format!("exporting {done}/{n} photos"),
                        fraction: done as f32 / n as f32,
                        done: false,
                    })
                })
            },
            move |result| {
                events.send(Event::Progress {
                    task: "exporting all edits".into(),
                    fraction: 1.0,
                    done: true,
                });
                events.send(match result {
                    Ok(files) => Event::Notice(format!(
                        "exported {} files to {}",
                        files.len(),
                        dir.display()
                    )),
                    Err(e) if cancel.is_cancelled() => Event::Notice(format!("{e:#}")),
                    Err(e) => Event::Error(line(e)),
                });
            },
        )?;
        Ok(())
    }

    /// Edits a video with the photo's slider values on a thread of its own: read, edit every
    /// frame, write (atomically), report beside it.
    fn apply_to_video(
        &mut self,
        photo: PhotoId,
        input: std::path::PathBuf,
        output: std::path::PathBuf,
        cancel: CancelToken,
    ) -> anyhow::Result<()> {
        crate::video::ClipFormat::of(&input)?;
        crate::video::ClipFormat::of(&output)?;
        let names: Vec<String> = self
            .workspace
            .directions()
            .map(|d| {
                d.set
                    .directions
                    .iter()
                    .map(|d| d.info.name.clone())
                    .collect()
            })
            .unwrap_or_default();
        let sliders = self
            .workspace
            .photo(photo)?
            .slider_pairs()
            .into_iter()
            .filter_map(|(i, v)| Some((names.get(i)?.clone(), v)))
            .collect();
        let settings = crate::workspace::VideoSettings {
            sliders,
            ..Default::default()
        };
        if !self.workspace.has_detector() {
            self.workspace.load_detector()?;
        }
        let job = self.workspace.prepare_video(&settings)?;
        let (events, progress) = (self.events.clone(), self.events.clone());
        let token = cancel.clone();
        let written = output.clone();
        spawn_job(
            "facestyle-video",
            "editing a video",
            move || {
                progress.send(Event::Progress {
                    task: "video: reading".into(),
                    fraction: 0.0,
                    done: false,
                });
                let clip = crate::video::read_clip(&input, None)?;
                let (edited, report) = job.run(clip, &token, |p| {
                    progress.send(Event::Progress {
                        task: format!("video: {} {}/{}", p.stage.label(), p.done, p.total),
                        fraction: p.done as f32 / p.total.max(1) as f32,
                        done: false,
                    })
                })?;
                if token.is_cancelled() {
                    anyhow::bail!("cancelled: nothing was written");
                }
                crate::video::write_clip(&written, &edited)?;
                crate::safe_write::write_atomically(
                    &crate::video::report_path(&written),
                    serde_json::to_string_pretty(&report)?.as_bytes(),
                )?;
                Ok(report)
            },
            move |result| {
                events.send(Event::Progress {
                    task: "editing a video".into(),
                    fraction: 1.0,
                    done: true,
                });
                match result {
                    Ok(r) => {
                        events.send(Event::Notice(format!(
                            "video saved: {} ({} frames, face in {}, {} passed through)",
                            output.display(),
                            r.frames,
                            r.frames - r.frames_passed_through,
                            r.frames_passed_through
                        )));
                        events.send(Event::VideoSaved(output));
                    }
                    Err(e) if cancel.is_cancelled() => {
                        events.send(Event::Notice(format!("video {e:#}")))
                    }
                    Err(e) => events.send(Event::Error(line(e))),
                }
            },
        )?;
        Ok(())
    }

    /// Computes directions on a thread of its own (the engine keeps answering meanwhile).
    fn compute_directions(
        &mut self,
        method: crate::workspace::DirectionMethod,
        cancel: CancelToken,
    ) -> anyhow::Result<()> {
        let job = self.workspace.prepare_directions(method)?;
        let task = format!("computing {} directions", job.method().name());
        let (events, progress) = (self.events.clone(), self.events.clone());
        let requests = self.requests.clone();
        let (running, token) = (task.clone(), cancel.clone());
        spawn_job(
            "facestyle-directions",
            "computing directions",
            move || {
                job.run(&token, |fraction| {
                    progress.send(Event::Progress {
                        task: running.clone(),
                        fraction,
                        done: false,
                    })
                })
            },
            move |result| {
                events.send(Event::Progress {
                    task,
                    fraction: 1.0,
                    done: true,
                });
                if cancel.is_cancelled() {
                    events.send(Event::Notice(
                        "computing directions cancelled: the sliders in use are kept".into(),
                    ));
                } else {
                    let _ = requests.send(Request::DirectionsComputed(Box::new(result)));
                }
            },
        )?;
        Ok(())
    }

    fn take_directions(
        &mut self,
        result: anyhow::Result<crate::workspace::ComputedDirections>,
    ) -> anyhow::Result<()> {
        let computed = result?;
        let label = computed.label.clone();
        let report = computed.report.clone();
        let previous = self.workspace.directions().cloned();
        self.workspace.use_computed_directions(computed)?;
        self.announce_new_set(previous);
        self.events.send(Event::Notice(format!("sliders: {label}")));
        for line in report {
            self.events.send(Event::Notice(line));
        }
        Ok(())
    }

    /// Tells the UI about an open photo (opened, or redrawn).
    fn send_photo(&self, id: PhotoId) -> anyhow::Result<()> {
        self.events
            .send(Event::Photo(Box::new(self.photo_view(id)?)));
        Ok(())
    }

    /// The Edit view's panes and facts of an open photo.
    fn photo_view(&self, id: PhotoId) -> anyhow::Result<PhotoView> {
        let start = Instant::now();
        let r = self.workspace.reconstruction(id)?;
        let photo = self.workspace.photo(id)?;
        let millis = start.elapsed().as_secs_f64() * 1000.0;
        Ok(PhotoView {
            id,
            path: photo.path.clone(),
            stem: photo.stem(),
            aligned: photo.face.aligned.is_some(),
            faces: photo.face.found,
            face: photo.face.index,
            personalized: photo.personalization.is_some(),
            sliders: photo.sliders.clone(),
            quality: r.quality,
            input: Frame::from_rgb(0, r.target, millis),
            reconstruction: Frame::from_rgb(0, r.image, millis),
        })
    }

    fn revert(&mut self, photo: PhotoId) -> anyhow::Result<()> {
        let kept = self.workspace.take_personalization(photo)?;
        let tuned_with: Vec<PhotoId> = kept.iter().map(|(id, _)| *id).collect();
        if !kept.is_empty() {
            self.kept_tunings.push(kept);
            if self.kept_tunings.len() > KEPT_TUNINGS {
                self.kept_tunings.remove(0);
            }
        }
        for id in &tuned_with {
            self.send_photo(*id)?;
        }
        self.events
            .send(Event::Unpersonalized(if tuned_with.is_empty() {
                vec![photo]
            } else {
                tuned_with
            }));
        Ok(())
    }

    /// Puts back the newest personalization of `photo` that a revert took away.
    fn restore(&mut self, photo: PhotoId) -> anyhow::Result<()> {
        let i = self
            .kept_tunings
            .iter()
            .rposition(|k| k.iter().any(|(id, _)| *id == photo))
            .with_context(|| {
                format!("that personalization is no longer kept (only the last {KEPT_TUNINGS} are)")
            })?;
        let kept = self.kept_tunings.remove(i);
        let photos: Vec<PhotoId> = kept.iter().map(|(id, _)| *id).collect();
        let (steps, seconds, perceptual) = {
            let p = &kept[0].1;
            (p.steps, p.seconds, p.perceptual.clone())
        };
        self.workspace.restore_personalization(kept)?;
        for id in &photos {
            self.send_photo(*id)?;
        }
        self.events.send(Event::Personalized {
            photos,
            steps,
            seconds,
            perceptual,
        });
        Ok(())
    }

    fn open_session(&mut self, path: &std::path::Path) -> anyhow::Result<()> {
        let before = self.workspace.generator()?.identity.clone();
        let previous = self.workspace.directions().cloned();
        let loaded = self.workspace.load_session(path)?;
        if self.workspace.generator()?.identity != before {
            self.send_ready();
        }
        self.announce_new_set(previous);
        for id in &loaded.photos {
            self.send_photo(*id)?;
        }
        for w in &loaded.warnings {
            self.events.send(Event::Error(format!("not restored: {w}")));
        }
        self.events.send(Event::SessionOpened {
            path: path.to_path_buf(),
            photos: loaded.photos.len(),
        });
        Ok(())
    }
}

/// The next request; once none has come for [`KEEP_WHILE_BUSY`], the large buffers kept for
/// reuse (`huge_pages`) go back to the system first — not between the frames of a drag, which
/// ask for the same buffers again. `None` when the channel is closed.
fn next_request(rx: &Receiver<Request>) -> Option<Request> {
    match rx.recv_timeout(KEEP_WHILE_BUSY) {
        Ok(req) => Some(req),
        Err(RecvTimeoutError::Timeout) => {
            crate::huge_pages::release_kept();
            rx.recv().ok()
        }
        Err(RecvTimeoutError::Disconnected) => None,
    }
}

/// Which queued requests a newer one of the same stream replaces: renders, mixes, and the
/// edits of each photo.
fn superseded(pending: &[Request]) -> Vec<bool> {
    let mut seen_render = false;
    let mut seen_mix = false;
    let mut seen_edit: Vec<PhotoId> = Vec::new();
    let mut stale = vec![false; pending.len()];
    for (i, req) in pending.iter().enumerate().rev() {
        stale[i] = match req {
            Request::Render { .. } => std::mem::replace(&mut seen_render, true),
            Request::Mix { .. } => std::mem::replace(&mut seen_mix, true),
            Request::Edit { photo, .. } => {
                let seen = seen_edit.contains(photo);
                seen_edit.push(*photo);
                seen
            }
            _ => false,
        };
    }
    stale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_each_stream_only_the_newest_queued_request_is_drawn() {
        let (a, b) = (PhotoId(1), PhotoId(2));
        let params = SeedFace::new(0, 0.7);
        let edit = |photo, id| Request::Edit {
            photo,
            sliders: vec![1.0],
            id,
            preview: false,
        };
        let mix = |id| Request::Mix {
            a,
            b,
            layers: 0..4,
            id,
        };
        let queue = vec![
            Request::Render { params, id: 1 },
            edit(a, 1),
            mix(1),
            edit(b, 2),
            Request::Revert(a),
            edit(a, 3),
            mix(2),
            Request::Render { params, id: 2 },
            mix(3),
        ];
        let stale = superseded(&queue);
        assert_eq!(
            stale,
            vec![true, true, true, false, false, false, true, false, false]
        );
    }
}
