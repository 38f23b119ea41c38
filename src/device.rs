//! Backend choice at run time: burn's wgpu backend on a real GPU, else its `flex` CPU backend.

use std::fmt;

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

/// Runs `work` on one of the CPU backend's worker threads (rayon's pool) and waits for it.
/// The kernels' parallel loops inside then split among the pool's threads directly; called
/// from any other thread, every one of those loops (hundreds per tuning step) would wake the
/// pool and put the caller to sleep until it is done, and on a 2-core machine that hand-over
/// cost more than the loops gained (`docs/performance.md`). A panic in `work` resumes on the
/// caller's thread.
pub fn on_compute_threads<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| work())
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
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}
