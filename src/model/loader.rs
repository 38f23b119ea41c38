//! Building a module is loading it: a [`Loader`] hands out the tensors under a key prefix of
//! a [`TensorStore`], checked against the shape the module expects, as burn tensors.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};

use crate::weights::{TensorStore, WeightsError};

#[derive(Clone)]
pub struct Loader<'a> {
    store: &'a TensorStore,
    prefix: String,
    device: &'a Device,
}

impl<'a> Loader<'a> {
    pub fn new(store: &'a TensorStore, device: &'a Device) -> Self {
        Self {
            store,
            prefix: String::new(),
            device,
        }
    }

    pub fn device(&self) -> &'a Device {
        self.device
    }

    pub fn store(&self) -> &'a TensorStore {
        self.store
    }

    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A loader for the sub-module `name` (keys `prefix + name + "."`).
    pub fn at(&self, name: impl std::fmt::Display) -> Loader<'a> {
        Loader {
            store: self.store,
            prefix: format!("{}{name}.", self.prefix),
            device: self.device,
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.store.contains(&self.key(name))
    }

    pub fn tensor<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
    ) -> Result<Tensor<D>, WeightsError> {
        let values = self.store.f32(&self.key(name), &shape)?;
        Ok(tensor_from_vec(values, shape, self.device))
    }

    pub fn param<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
    ) -> Result<Param<Tensor<D>>, WeightsError> {
        Ok(Param::from_tensor(self.tensor(name, shape)?))
    }
}

pub fn tensor_from_vec<const D: usize>(
    values: Vec<f32>,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// Reads a tensor back to the host as f32 values.
pub fn tensor_to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor data converts to f32")
}
