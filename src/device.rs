//! Backend choice at run time: burn's wgpu backend on a real GPU, else its `flex` CPU backend.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::tensor::{Device, DeviceKind};

/// What the user asked for with `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceChoice {
    /// A hardware GPU through wgpu when one exists, else the CPU.
    #[default]
    Auto,
    /// wgpu (Vulkan / Metal / DX12): the best adapter, even a software one when it is all
    /// there is.
    Gpu,
    /// wgpu on a software adapter (e.g. Mesa's lavapipe), even when a hardware GPU exists:
    /// the GPU code path on any machine (how the tests check it).
    SoftwareGpu,
    /// burn's `flex` CPU backend.
    Cpu,
}

/// The device in use and how to describe it to the user.
#[derive(Clone)]
pub struct ComputeDevice {
    pub device: Device,
    pub kind: BackendKind,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Gpu,
    Cpu,
}

impl fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// Every wgpu adapter of the primary backends (Vulkan, Metal, DX12).
fn adapters() -> Vec<wgpu::AdapterInfo> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY))
        .into_iter()
        .map(|a| a.get_info())
        .collect()
}

/// The first adapter whose being a software one is `software`, as "name (backend)".
fn first_adapter(software: bool) -> Option<String> {
    adapters()
        .into_iter()
        .find(|info| (info.device_type == wgpu::DeviceType::Cpu) == software)
        .map(|info| format!("{} ({:?})", info.name, info.backend))
}

/// The first hardware (non-CPU) wgpu adapter, as "name (backend)".
fn hardware_adapter() -> Option<String> {
    first_adapter(false)
}

/// The first software wgpu adapter (lavapipe, SwiftShader …), as "name (backend)".
pub fn software_adapter() -> Option<String> {
    first_adapter(true)
}

impl ComputeDevice {
    pub fn cpu() -> Self {
        Self {
            device: Device::flex(),
            kind: BackendKind::Cpu,
            description: "CPU (burn flex)".into(),
        }
    }

    pub fn select(choice: DeviceChoice) -> Self {
        match choice {
            DeviceChoice::Cpu => Self::cpu(),
            DeviceChoice::Gpu => Self {
                device: Device::wgpu(DeviceKind::DefaultDevice),
                kind: BackendKind::Gpu,
                description: format!(
                    "GPU (burn wgpu: {})",
                    hardware_adapter().unwrap_or_else(|| "default adapter".into())
                ),
            },
            DeviceChoice::SoftwareGpu => Self {
                device: Device::wgpu(DeviceKind::Cpu),
                kind: BackendKind::Gpu,
                description: format!(
                    "GPU code path on a software adapter (burn wgpu: {})",
                    software_adapter().unwrap_or_else(|| "none found".into())
                ),
            },
            DeviceChoice::Auto => match hardware_adapter() {
                Some(name) => Self {
                    device: Device::wgpu(DeviceKind::DefaultDevice),
                    kind: BackendKind::Gpu,
                    description: format!("GPU (burn wgpu: {name})"),
                },
                None => Self::cpu(),
            },
        }
    }
}

/// Runs `work` on one of the CPU backend's worker threads (rayon's pool) and waits for it,
/// with the pool's other workers kept awake until it returns (`with_workers_awake`). The
/// kernels' parallel loops inside then split among the pool's threads directly; called
/// from any other thread, every one of those loops (hundreds per tuning step) would wake the
/// pool and put the caller to sleep until it is done, and on a 2-core machine that hand-over
/// cost more than the loops gained (`docs/performance.md`). A panic in `work` resumes on the
/// caller's thread. Called on a worker of a pool (nested), it is `work()`.
pub fn on_compute_threads<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    if rayon::current_thread_index().is_some() {
        return work();
    }
    let done = AtomicBool::new(false);
    rayon::scope(|scope| with_workers_awake(scope, &done, work))
}

/// `work` on this worker while every other worker of its pool looks for work without
/// sleeping until `work` returns. Between two of a batch-1 pass's short parallel regions
/// (a convolution's transforms, its products, an epilogue: dozens per frame) rayon's idle
/// workers would go to sleep on a futex and be woken for the next — a system call and a
/// context switch each, tens of microseconds on a small virtual machine (`perf`: 8 % of the
/// 64-px encoder, 13 % of a tuning step). OpenMP runtimes avoid that by spinning for a while
/// by default. Here the other workers run a job that takes the pool's pending jobs
/// (`rayon::yield_now`, which steals from the other workers' queues), yielding its core to
/// whatever else wants it in between; after `HOT` without any work (serial work, file I/O,
/// a GPU doing the maths) it looks less and less often — after an eighth of the time it has
/// been idle, at most every `MAX_POLL` — so that a long call costs an idle core next to
/// nothing, while a burst of parallel work after a short pause still finds it soon.
fn with_workers_awake<'scope, R>(
    scope: &rayon::Scope<'scope>,
    done: &'scope AtomicBool,
    work: impl FnOnce() -> R,
) -> R {
    const HOT: Duration = Duration::from_millis(2);
    const MAX_POLL: Duration = Duration::from_millis(5);
    for _ in 1..rayon::current_num_threads() {
        scope.spawn(move |_| {
            let mut idle_since = None;
            while !done.load(Ordering::Acquire) {
                if let Some(rayon::Yield::Executed) = rayon::yield_now() {
                    idle_since = None;
                    continue;
                }
                let idle = idle_since.get_or_insert_with(Instant::now).elapsed();
                if idle < HOT {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep((idle / 8).min(MAX_POLL));
                }
            }
        });
    }
    // set even when `work` panics, so that the helpers return and the scope can hand the
    // panic on
    struct SetOnDrop<'a>(&'a AtomicBool);
    impl Drop for SetOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    let _finish = SetOnDrop(done);
    work()
}

/// `on_compute_threads` for long work (a personalization, a video) that runs beside other
/// work: on worker threads of its own, as many as the shared pool's. On the shared pool, a
/// thread waiting inside one of its parallel loops would run whatever else is queued there —
/// a whole other job — before going on, and that job would wait behind it the same way.
pub fn on_own_compute_threads<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("facestyle-job-{i}"))
        .build()
    {
        Ok(pool) => {
            let done = AtomicBool::new(false);
            pool.install(|| rayon::scope(|scope| with_workers_awake(scope, &done, work)))
        }
        Err(_) => work(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn compute_threads_run_the_work_and_return_its_value() {
        let sum: u64 = on_compute_threads(|| (0..100_000u64).into_par_iter().sum());
        assert_eq!(sum, 100_000 * 99_999 / 2);
        // nested, and on a pool of its own
        assert_eq!(on_compute_threads(|| on_compute_threads(|| 7)), 7);
        let n = on_own_compute_threads(|| (0..1000).into_par_iter().filter(|i| i % 3 == 0).count());
        assert_eq!(n, 334);
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller_and_the_pool_keeps_working() {
        let caught = std::panic::catch_unwind(|| on_compute_threads(|| panic!("inside")));
        assert!(caught.is_err());
        let n: usize =
            on_compute_threads(|| (0..1000).into_par_iter().filter(|i| i % 3 == 0).count());
        assert_eq!(n, 334);
    }
}
