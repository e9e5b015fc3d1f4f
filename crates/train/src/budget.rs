//! A run fitted to its time budget (`train.fit_to_time = true` with `train.max_minutes`).
//!
//! A run cut by its time limit stops wherever its schedule is, usually at a high learning rate
//! that leaves the model unfinished. Fitted instead, the run re-estimates after every epoch how
//! many epochs fit in the time that is left, from what the epochs so far took (validations
//! included), and the schedule is stretched or shrunk to end with the last of them: the run
//! anneals and validates once more before the budget runs out. `train.epochs` is the most it
//! trains.

/// Share of the estimated time that is planned: epochs vary, and the last one must finish.
const MARGIN: f64 = 0.95;
/// Average epochs kept in hand at the end: the last epoch validates and writes `last`, and late
/// epochs can run slower than the average (a 10-minute demo run planned its final epoch with 3 s
/// left, took 4 s an epoch at the end against 2.6 s on average, and was cut by the time limit
/// before its final validation).
const RESERVE_EPOCHS: f64 = 1.0;

#[derive(Clone, Copy, Debug)]
pub struct TimeFit {
    budget_seconds: f64,
    max_epochs: usize,
}

impl TimeFit {
    pub fn new(max_minutes: f64, max_epochs: usize) -> TimeFit {
        TimeFit { budget_seconds: max_minutes * 60.0, max_epochs }
    }

    /// The epochs the run should have in all, after `done` epochs took `elapsed_seconds`: never
    /// fewer than `done` (stop now), never more than `train.epochs`.
    pub fn epochs(&self, done: usize, elapsed_seconds: f64) -> usize {
        if done == 0 || elapsed_seconds <= 0.0 {
            return self.max_epochs;
        }
        let per_epoch = elapsed_seconds / done as f64;
        let left =
            ((self.budget_seconds - elapsed_seconds) * MARGIN / per_epoch - RESERVE_EPOCHS).floor().max(0.0);
        (done + left.min(self.max_epochs as f64) as usize).clamp(done, self.max_epochs.max(done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epochs_follow_the_measured_pace() {
        let fit = TimeFit::new(10.0, 1000);
        assert_eq!(fit.epochs(0, 0.0), 1000, "nothing measured yet: the cap");
        // 6 s an epoch: 96 s gone leave 504 s, 95% of which is 79.8 epochs, one kept in hand.
        assert_eq!(fit.epochs(16, 96.0), 16 + 78);
        assert_eq!(fit.epochs(50, 590.0), 50, "no time for another epoch: stop now");
        // 11.6 s an epoch, 1.5 epochs left: the next would leave no room for a slower last one.
        assert_eq!(fit.epochs(50, 582.0), 50, "one epoch in hand: stop now");
        assert_eq!(fit.epochs(50, 570.0), 51, "2.5 epochs left: one more, one in hand");
        assert_eq!(fit.epochs(50, 700.0), 50, "over budget: stop now");
        assert_eq!(TimeFit::new(10.0, 20).epochs(5, 10.0), 20, "train.epochs caps a fast run");
    }
}
