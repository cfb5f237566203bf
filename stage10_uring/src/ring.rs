//! The ring's plumbing, apart from the model in main.rs: setting the ring up, handing it the
//! queued operations and waiting, naming an operation in its `user_data`, reading a
//! completion's result. None of it decides what a connection does next; main.rs does.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use io_uring::{IoUring, squeue, types};

/// Room in the submission ring: how many operations one `io_uring_enter` can hand over.
/// More wait in main.rs's `Queued` for the next one.
const SUBMISSION_ENTRIES: u32 = 256;

/// Room in the completion ring. Every connection has one operation in flight, so more can
/// complete at once than there is room for; the kernel then keeps the rest (it has
/// `IORING_FEAT_NODROP`) and hands them over once we have made room.
const COMPLETION_ENTRIES: u32 = 4096;

/// Sets up the ring, or says in one line why this kernel cannot.
pub fn start() -> io::Result<IoUring> {
    let unavailable = |error: io::Error| {
        let message = format!(
            "io_uring is not available here ({error}); stage10 needs Linux 5.11 or later with \
             io_uring enabled (sysctl kernel.io_uring_disabled = 0)"
        );
        io::Error::new(error.kind(), message)
    };
    // Two promises that let the kernel do less: only this thread submits (SINGLE_ISSUER), and
    // it comes back to wait often, so the kernel may leave the work that finishes a waiting
    // operation (an accept, a receive parked on an empty socket) until then, in one batch,
    // instead of interrupting the thread for each (DEFER_TASKRUN). SINGLE_ISSUER came in Linux
    // 6.0, DEFER_TASKRUN in 6.1 and only together with it: an older kernel refuses the pair
    // (EINVAL), and gets the ring without them.
    let ring = IoUring::builder()
        .setup_cqsize(COMPLETION_ENTRIES)
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(SUBMISSION_ENTRIES)
        .or_else(|error| match error.raw_os_error() {
            Some(libc::EINVAL) => {
                IoUring::builder().setup_cqsize(COMPLETION_ENTRIES).build(SUBMISSION_ENTRIES)
            }
            _ => Err(error),
        })
        .map_err(unavailable)?;
    if !ring.params().is_feature_nodrop() || !ring.params().is_feature_ext_arg() {
        return Err(unavailable(io::Error::other("no IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG")));
    }
    Ok(ring)
}

/// Moves the queued operations into the submission ring and submits them, then sleeps until
/// at least one completion is there (or `timeout` passes): one `io_uring_enter` for all of it,
/// unless more are queued than the ring holds.
///
/// # Safety
///
/// Every queued entry's buffers must stay valid, and not move, until its operation completes.
pub unsafe fn submit_and_wait(
    ring: &mut IoUring,
    queued: &mut VecDeque<squeue::Entry>,
    timeout: Option<Duration>,
) -> io::Result<()> {
    loop {
        let mut submission = ring.submission();
        while let Some(entry) = queued.front() {
            // SAFETY: the caller promises that the entry's buffers outlive its operation.
            if unsafe { submission.push(entry) }.is_err() {
                break;
            }
            queued.pop_front();
        }
        drop(submission);
        if queued.is_empty() {
            break;
        }
        // The submission ring is full: hand these over now, then queue the rest.
        match ring.submit() {
            Ok(_) => {}
            // The completion ring is full and the kernel holds more: take completions first.
            Err(error) if error.raw_os_error() == Some(libc::EBUSY) => return Ok(()),
            Err(error) => return Err(error),
        }
    }
    let result = match timeout {
        Some(timeout) => {
            let timespec = types::Timespec::from(timeout);
            let arguments = types::SubmitArgs::new().timespec(&timespec);
            ring.submitter().submit_with_args(1, &arguments)
        }
        None => ring.submit_and_wait(1),
    };
    match result {
        Ok(_) => Ok(()),
        // The timeout passed (ETIME), a signal arrived (EINTR), or the completion ring is
        // full (EBUSY): in every case, look at the completions and deadlines, then return.
        Err(error)
            if matches!(error.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) =>
        {
            Ok(())
        }
        Err(error) => Err(error),
    }
}

/// The `user_data` of an operation: the key (a connection's, or an accept's place) in the
/// high bits, the kind of operation in the low byte.
pub fn pack(key: usize, kind: u8) -> u64 {
    (key as u64) << 8 | u64::from(kind)
}

/// The key and the kind of operation that a completion's `user_data` names.
pub fn unpack(user_data: u64) -> (usize, u8) {
    ((user_data >> 8) as usize, user_data as u8)
}

/// A completion's result as Rust sees results: the count it carries, or the error it names
/// (the kernel writes `-errno` there on failure).
pub fn outcome(result: i32) -> io::Result<u32> {
    u32::try_from(result).map_err(|_| io::Error::from_raw_os_error(-result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_carries_the_key_and_the_kind_back() {
        for (key, kind) in [(0, 0), (1, 5), (123_456_789, 255)] {
            assert_eq!(unpack(pack(key, kind)), (key, kind));
        }
    }

    #[test]
    fn a_negative_result_is_its_errno() {
        assert_eq!(outcome(42).unwrap(), 42);
        assert_eq!(outcome(-libc::ECANCELED).unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    }
}
