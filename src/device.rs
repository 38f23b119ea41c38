//! Backend choice at run time: burn's wgpu backend on a real GPU, else its `flex` CPU backend.

use std::fmt;

use burn::tensor::{Device, DeviceKind};

/// What the user asked for with `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeviceChoice {
    /// A hardware GPU through wgpu when one exists, else the CPU.
    #[default]
    Auto,
    /// wgpu (Vulkan / Metal / DX12), even a software adapter.
    Gpu,
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

/// The first hardware (non-CPU) wgpu adapter, as "name (backend)".
fn hardware_adapter() -> Option<String> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
    adapters
        .into_iter()
        .map(|a| a.get_info())
        .find(|info| info.device_type != wgpu::DeviceType::Cpu)
        .map(|info| format!("{} ({:?})", info.name, info.backend))
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
