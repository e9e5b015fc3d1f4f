//! Data parallel training on one machine: `train.devices = [0, 1, ...]` splits every batch
//! across the devices, runs each part's forward pass on a replica of the model on its device
//! (launched one after the other, so batch norm's running statistics are updated part after
//! part, deterministically), their backward passes at once (one thread per device), and reduces the gradients onto the first device, each part's
//! weighted by its share of the batch, so that with a loss that is a mean over the batch the
//! step is the one of the whole batch on one device. The optimiser steps once, on the first
//! device's model; the other replicas are refreshed from it before the next step; there is one
//! model and one checkpoint.
//!
//! The reduction moves each replica's gradients to the first device and sums them there (what a
//! reduce needs on any backend). burn 0.22's collective operations (`DistributedOps`,
//! `all_reduce` of gradients as they become final) exist only on CUDA (NCCL); flex reports them
//! unsupported and the wgpu/Vulkan runtimes have no device transport, so this host reduction is
//! what runs on every backend here.
//!
//! Like PyTorch's `DistributedDataParallel` without `SyncBatchNorm`, batch normalisation
//! normalises each part by its own statistics, and the running statistics take each part in
//! turn as accumulated micro-batches do; a loss that is not a mean over the batch (dice over the batch) is computed per part.
//! So two devices at batch `2b` take the step one device takes with `optim.accumulate = 2` at
//! batch `b`; with a per-sample mean loss and no batch normalisation, exactly the step of one
//! device at batch `2b`.

use boneseg_models::SegmentationModel;
use boneseg_models::burn::module::{Module, ModuleVisitor, Param};
use boneseg_models::burn::optim::GradientsParams;
use boneseg_models::burn::tensor::{Device, Tensor};
use boneseg_models::device::Backend;

use crate::data::Batch;
use crate::loss::Loss;
use crate::optim::grads;

/// The devices of `train.devices` on `backend`: index 0 is the backend's default device. The
/// CPU has one device, so on it every index is a replica on that one device (for tests; flex
/// already uses every core).
pub fn devices(backend: Backend, indices: &[usize]) -> Result<Vec<Device>, String> {
    let mut seen = std::collections::HashSet::new();
    indices
        .iter()
        .map(|&index| {
            if !seen.insert(index) {
                return Err(format!("train.devices lists device {index} twice"));
            }
            if index == 0 {
                return backend.device();
            }
            device_at(backend, index)
        })
        .collect()
}

fn device_at(backend: Backend, index: usize) -> Result<Device, String> {
    match backend {
        Backend::Cpu => backend.device(),
        #[cfg(feature = "cuda")]
        Backend::Cuda => Ok(Device::cuda(index)),
        #[cfg(feature = "vulkan")]
        Backend::Vulkan => Ok(Device::vulkan(boneseg_models::burn::tensor::DeviceKind::DiscreteGpu(index))),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Ok(Device::wgpu(boneseg_models::burn::tensor::DeviceKind::DiscreteGpu(index))),
        #[allow(unreachable_patterns)]
        other => {
            let _ = index;
            other.device()
        }
    }
}

/// The replicas' autodiff devices, the first one the model's.
pub struct DataParallel {
    devices: Vec<Device>,
}

impl DataParallel {
    /// `devices` are autodiff devices; the model lives on the first.
    pub fn new(devices: Vec<Device>) -> DataParallel {
        assert!(!devices.is_empty(), "at least one device");
        DataParallel { devices }
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Forward and backward of `batch`, split across the devices: the batch's mean loss and the
    /// gradients of `model`'s parameters on its device. `seed` seeds every device's random
    /// draws (dropout) for this step.
    pub fn forward_backward(
        &self,
        model: &SegmentationModel,
        batch: Batch,
        loss: &Loss,
        seed: u64,
    ) -> (f64, GradientsParams) {
        let total = batch.batch_size;
        let parts = split(batch, self.devices.len());
        // Forward passes one after the other, here: each part's batch norm updates the running
        // statistics in turn, as accumulated micro-batches do (and never two threads at once).
        let forwards: Vec<(usize, f64, Tensor<1>, SegmentationModel)> = parts
            .into_iter()
            .zip(&self.devices)
            .enumerate()
            .map(|(i, (part, device))| {
                let replica = if i == 0 { model.clone() } else { model.clone().fork(device) };
                device.seed(seed);
                let n = part.batch_size;
                let (images, targets) = part.into_tensors(device);
                let value = loss.forward(replica.forward(images), targets);
                let mean = value.clone().into_scalar::<f32>() as f64;
                (n, mean, value, replica)
            })
            .collect();
        // Backward passes at once, one thread per device.
        let results: Vec<(usize, f64, GradientsParams)> = std::thread::scope(|scope| {
            let handles: Vec<_> = forwards
                .into_iter()
                .map(|(n, mean, value, replica)| {
                    scope.spawn(move || (n, mean, GradientsParams::from_grads(value.backward(), &replica)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a replica's backward panicked")).collect()
        });
        let master = &self.devices[0];
        let mut value = 0.0;
        let mut sum: Option<GradientsParams> = None;
        for (n, mean, part) in results {
            let share = n as f64 / total as f64;
            value += share * mean;
            let part = grads::scale(model, to_device(model, part, master), share);
            sum = Some(match sum {
                Some(sum) => grads::add(model, sum, part),
                None => part,
            });
        }
        (value, sum.expect("at least one part"))
    }
}

/// `batch` in at most `parts` consecutive parts of near-equal size (none empty).
pub fn split(batch: Batch, parts: usize) -> Vec<Batch> {
    let parts = parts.min(batch.batch_size).max(1);
    let (image_len, target_len) =
        (batch.images.len() / batch.batch_size, batch.targets.len() / batch.batch_size);
    (0..parts)
        .map(|k| {
            let range = boneseg_contract::Shard { index: k, count: parts }.range(batch.batch_size);
            Batch {
                images: batch.images[range.start * image_len..range.end * image_len].to_vec(),
                targets: batch.targets[range.start * target_len..range.end * target_len].to_vec(),
                names: batch.names[range.clone()].to_vec(),
                batch_size: range.len(),
                size: batch.size,
                index: batch.index,
            }
        })
        .collect()
}

/// Every gradient of `model`'s parameters moved to `device`.
fn to_device(model: &SegmentationModel, grads: GradientsParams, device: &Device) -> GradientsParams {
    struct Move<'a> {
        grads: GradientsParams,
        device: &'a Device,
    }
    impl ModuleVisitor for Move<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(grad) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, grad.to_device(self.device));
            }
        }
    }
    let mut visitor = Move { grads, device };
    model.visit(&mut visitor);
    visitor.grads
}
