//! The background worker: owns the compute device and the models; the UI only sends
//! [`Request`]s and receives [`Event`]s, so it never waits on the model.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::Context;

use crossbeam_channel::{Receiver, Sender};

use super::messages::{Event, FinishedJob, Frame, Inversion, RenderParams, Request};
use crate::device::{ComputeDevice, DeviceChoice};
use crate::face::Framing;
use crate::pti::{CancelToken, TuningConfig};
use crate::workspace::personalize::JobProgress;
use crate::workspace::{PersonalizeSettings, PhotoId, PivotSource, Workspace};

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

/// The request loop over one [`Workspace`]: the editor shows one photo at a time (the current
/// one); every action is a workspace method.
struct Worker {
    workspace: Workspace,
    /// The photo the editor shows.
    current: Option<PhotoId>,
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
            current: None,
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
        match self.workspace.load_generator(path) {
            Ok(closed) => {
                let g = self.workspace.generator().expect("just loaded");
                self.events.send(Event::Ready {
                    device: self.workspace.device.to_string(),
                    origin: self
                        .workspace
                        .generator_origin()
                        .expect("just loaded")
                        .clone(),
                    config: g.config.clone(),
                });
                if !closed.is_empty() {
                    self.current = None;
                    self.events.send(Event::Notice(format!(
                        "closed {} (made for the previous generator)",
                        closed.join(", ")
                    )));
                }
                if let Some(problem) = self.workspace.encoder_problem() {
                    self.events
                        .send(Event::Error(format!("cannot invert photos: {problem}")));
                }
                self.send_directions();
            }
            Err(e) => self.events.send(Event::Error(line(e))),
        }
    }

    fn send_directions(&self) {
        if let Some(d) = self.workspace.directions() {
            self.events.send(Event::Directions(
                d.set.directions.iter().map(|d| d.info.clone()).collect(),
                d.label.clone(),
            ));
        }
    }

    /// Handles requests in order; of the renders waiting at one time only the newest is
    /// drawn (slider drags coalesce instead of queueing up). Every request runs under
    /// `catch_unwind`: a panic becomes an error event naming the action, the models are
    /// reloaded and the photo, its codes and the sliders are kept.
    fn run(mut self, rx: &Receiver<Request>) {
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
                match catch_unwind(AssertUnwindSafe(|| self.handle(req))) {
                    Ok(Flow::Stop) => return,
                    Ok(Flow::Continue) => {}
                    Err(payload) => self.recover(action, &panic_message(payload.as_ref())),
                }
            }
        }
    }

    fn handle(&mut self, req: Request) -> Flow {
        let result = match req {
            Request::Shutdown => return Flow::Stop,
            Request::LoadGenerator(path) => {
                self.load(Some(&path));
                Ok(())
            }
            Request::Edit { sliders, id } => self
                .edit(&sliders, id)
                .map(|frame| self.events.send(Event::Edited(frame))),
            Request::LoadDirections(path) => self
                .workspace
                .load_directions(&path)
                .map(|()| self.send_directions())
                .map_err(|e| e.context("the current sliders are kept")),
            Request::Personalize { steps, cancel } => self.personalize(steps, cancel),
            Request::JobFinished(job) => self.finish_personalization(job),
            Request::Revert => self.revert(),
            Request::LoadEncoder(path) => self.workspace.load_encoder(Some(&path)).map(|()| {
                self.events
                    .send(Event::Notice(format!("encoder: {}", path.display())));
            }),
            Request::ExportFull(path) => self
                .current()
                .and_then(|id| self.workspace.export_full(id, &path))
                .map(|()| {
                    self.events
                        .send(Event::Notice(format!("saved {}", path.display())))
                }),
            Request::Render { params, id } => self
                .render(params, id)
                .map(|frame| self.events.send(Event::Frame(params, frame))),
            Request::Invert { photo, face } => self
                .invert(&photo, face)
                .map(|inv| self.events.send(Event::Inverted(Box::new(inv)))),
            Request::InjectFault => panic!("fault injected by a test"),
        };
        if let Err(e) = result {
            self.events.send(Event::Error(line(e)));
        }
        Flow::Continue
    }

    fn current(&self) -> anyhow::Result<PhotoId> {
        self.current.context("invert a photo first")
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
        if !matches!(&reloaded, Ok(Ok(closed)) if closed.is_empty()) {
            // nothing trustworthy is left: start over without a photo
            self.current = None;
        }
        self.events.send(Event::Error(format!(
            "{action} failed unexpectedly ({message}); the models were reloaded and your photo and sliders kept"
        )));
    }

    fn render(&self, params: RenderParams, id: u64) -> anyhow::Result<Frame> {
        let start = Instant::now();
        let img = self
            .workspace
            .render_seeds(params.seed, 1, params.truncation)?
            .remove(0);
        Ok(Frame::from_rgb(
            id,
            img,
            start.elapsed().as_secs_f64() * 1000.0,
        ))
    }

    fn edit(&mut self, sliders: &[(usize, f32)], id: u64) -> anyhow::Result<Frame> {
        let photo = self.current()?;
        let start = Instant::now();
        self.workspace.set_sliders(photo, sliders)?;
        let img = self.workspace.edited(photo)?;
        Ok(Frame::from_rgb(
            id,
            img,
            start.elapsed().as_secs_f64() * 1000.0,
        ))
    }

    /// Opens a photo in place of the current one.
    fn invert(&mut self, photo: &std::path::Path, face: usize) -> anyhow::Result<Inversion> {
        let id = self.workspace.open_photo(photo, Framing::Auto, face)?;
        if let Some(previous) = self.current.replace(id) {
            let _ = self.workspace.close_photo(previous);
        }
        self.current_inversion()
    }

    /// Starts tuning the current photo on a thread of its own; the engine keeps answering
    /// (renders, edits) and gets the result as [`Request::JobFinished`].
    fn personalize(&mut self, steps: usize, cancel: CancelToken) -> anyhow::Result<()> {
        let settings = PersonalizeSettings {
            pivot: PivotSource::Encoder,
            tuning: TuningConfig {
                steps,
                ..TuningConfig::default()
            },
            ..PersonalizeSettings::default()
        };
        let job = match self
            .workspace
            .prepare_personalization(&[self.current()?], &settings)
        {
            Ok(job) => job,
            Err(e) => {
                self.events.send(Event::Unpersonalized);
                return Err(e);
            }
        };
        self.running_job.set(Some(cancel.clone()));
        let progress = self.events.clone();
        let requests = self.requests.clone();
        std::thread::Builder::new()
            .name("facestyle-personalize".into())
            .spawn(move || {
                let outcome = catch_unwind(AssertUnwindSafe(|| {
                    job.run(&cancel, |p| {
                        if let JobProgress::Tuning(t) = p {
                            progress.send(Event::Tuning(t.clone()));
                        }
                    })
                }))
                .unwrap_or_else(|payload| {
                    Err(anyhow::anyhow!(
                        "personalizing failed unexpectedly ({})",
                        panic_message(payload.as_ref())
                    ))
                });
                let _ = requests.send(Request::JobFinished(FinishedJob { outcome, cancel }));
            })?;
        Ok(())
    }

    fn finish_personalization(&mut self, job: FinishedJob) -> anyhow::Result<()> {
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
                self.events.send(Event::Unpersonalized);
                return Ok(());
            }
        };
        let (steps, seconds) = (outcome.steps, outcome.seconds_tuning);
        let perceptual = outcome.perceptual.to_string();
        let tuned = self.workspace.finish_personalization(outcome)?;
        self.events.send(Event::Personalized {
            steps,
            seconds,
            perceptual,
        });
        if self.current.is_some_and(|c| tuned.contains(&c)) {
            self.events
                .send(Event::Inverted(Box::new(self.current_inversion()?)));
        }
        Ok(())
    }

    /// The photo pane for the current photo, codes and generator.
    fn current_inversion(&self) -> anyhow::Result<Inversion> {
        let id = self.current()?;
        let start = Instant::now();
        let r = self.workspace.reconstruction(id)?;
        let photo = self.workspace.photo(id)?;
        let millis = start.elapsed().as_secs_f64() * 1000.0;
        Ok(Inversion {
            aligned: photo.face.aligned.is_some(),
            faces: photo.face.found,
            face: photo.face.index,
            photo: photo.path.clone(),
            quality: r.quality,
            input: Frame::from_rgb(0, r.target, millis),
            reconstruction: Frame::from_rgb(0, r.image, millis),
        })
    }

    fn revert(&mut self) -> anyhow::Result<()> {
        if let Some(id) = self.current
            && self.workspace.revert(id)?
        {
            self.events
                .send(Event::Inverted(Box::new(self.current_inversion()?)));
        }
        self.events.send(Event::Unpersonalized);
        Ok(())
    }
}
