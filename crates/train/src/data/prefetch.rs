//! Batches on the device ahead of the step that needs them.
//!
//! The [`Loader`]'s workers augment and assemble batches on CPU threads; a GPU step must still
//! have them uploaded, and a 1024² batch of 4 is 540 MB of float32 (images and 29 target
//! planes). A thread of its own takes each batch from the loader and makes its device tensors
//! while the device runs the current step, so the training thread finds the next batch already
//! there and only waits when the CPU side cannot keep up: that wait is what
//! [`DeviceBatches::wait_share`] reports (`data_wait_share` in `steps.csv`). The prefetch is
//! bounded: one batch waits on the device, one more is being uploaded. A data-parallel step
//! splits each batch across its devices and uploads the parts itself, so there the thread only
//! takes the batches ahead, on the host.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use boneseg_models::burn::tensor::{Device, Tensor};

use crate::data::loader::{Batch, Loader};

/// A batch's images and targets on the device.
pub type DeviceBatch = (Tensor<4>, Tensor<4>);

/// A batch as the step takes it. (One per step, moved, never copied: the host variant's size
/// does not matter.)
#[allow(clippy::large_enum_variant)]
pub enum StepBatch {
    /// Uploaded to the training device.
    Device(DeviceBatch),
    /// Left on the host, for a step that places its parts itself (data parallel).
    Host(Batch),
}

/// One epoch's batches, in order, taken ahead of the step.
pub struct DeviceBatches {
    receiver: Option<Receiver<StepBatch>>,
    thread: Option<JoinHandle<()>>,
    batches: usize,
    created: Instant,
    wait: Duration,
}

impl DeviceBatches {
    /// Starts taking `loader`'s batches ahead, uploading them to `device` (`None`: they stay on
    /// the host).
    pub fn start(mut loader: Loader, device: Option<&Device>) -> DeviceBatches {
        let batches = loader.batches();
        let (sender, receiver) = sync_channel(1);
        let device = device.cloned();
        let thread = std::thread::Builder::new()
            .name("upload".to_string())
            .spawn(move || upload(&mut loader, device.as_ref(), &sender))
            .expect("can spawn the upload thread");
        DeviceBatches {
            receiver: Some(receiver),
            thread: Some(thread),
            batches,
            created: Instant::now(),
            wait: Duration::ZERO,
        }
    }

    /// Batches in the whole epoch (not only those left).
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// The next batch, or `None` at the end of the epoch. A panic of the loader's workers or
    /// of the upload is re-raised here.
    pub fn next_batch(&mut self) -> Option<StepBatch> {
        let receiver = self.receiver.as_ref()?;
        let waiting = Instant::now();
        let received = receiver.recv();
        self.wait += waiting.elapsed();
        match received {
            Ok(batch) => Some(batch),
            Err(_) => {
                self.receiver = None;
                if let Some(Err(panic)) = self.thread.take().map(JoinHandle::join) {
                    std::panic::resume_unwind(panic);
                }
                None
            }
        }
    }

    /// The time the consumer spent blocked waiting for a batch, as a share of the time since the
    /// epoch's batches started: the part of the step time lost to data loading and upload.
    pub fn wait_share(&self) -> f64 {
        let elapsed = self.created.elapsed().as_secs_f64();
        if elapsed > 0.0 { self.wait.as_secs_f64() / elapsed } else { 0.0 }
    }
}

impl Drop for DeviceBatches {
    fn drop(&mut self) {
        // Closing the channel makes the upload thread stop at its next batch; it drops the
        // loader, which stops the workers.
        self.receiver = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn upload(loader: &mut Loader, device: Option<&Device>, sender: &SyncSender<StepBatch>) {
    while let Some(batch) = loader.next_batch() {
        let batch = match device {
            Some(device) => StepBatch::Device(batch.into_tensors(device)),
            None => StepBatch::Host(batch),
        };
        if sender.send(batch).is_err() {
            return;
        }
    }
}
