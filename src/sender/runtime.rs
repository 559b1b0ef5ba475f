//! The process-wide sender runtime: the queue, the counters, and the sender thread's lifecycle (the [`Task`]s
//! it takes, its loop, starts and restarts). Per-event work is [`super::pipeline`]'s; data flows one way, from
//! here into the pipeline.
//!
//! The runtime is created by the first emit (never at library load) and published through an atomic
//! pointer, so the emit path is two atomic loads and a comparison before `try_send`. It is never freed:
//! callers on other threads may hold it at any time.
//!
//! - Thread death: the runtime keeps its own receiver, so the queue survives the thread; the next emit (or
//!   flush) starts a new thread on the same queue and counts a restart, at most once per [`RESTART_PAUSE`].
//! - `fork()`: the child sees a new [`fork::generation`] and builds a fresh runtime (new queue, new thread,
//!   counters from zero), leaking the inherited one untouched: its queue's internals and any lock in it may
//!   have been mid-use by a parent thread that does not exist in the child.
//! - The slow path serialises on a spin lock whose word holds the holder's generation, so a lock held by a
//!   parent thread at the time of the fork is recognised as stale in the child instead of waited for.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError};

use super::fork;
use super::pipeline::Pipeline;
use super::stats::{bump, Counters};

/// Default queue capacity in events.
pub const DEFAULT_CAPACITY: usize = 10_000;
/// Largest configurable queue capacity.
pub const MAX_CAPACITY: usize = 1_000_000;
/// Shortest time between two starts of a thread that died.
pub const RESTART_PAUSE: Duration = Duration::from_millis(100);
/// Longest an idle sender sleeps before it looks at the queue again by itself: the bound on how long an
/// event queued without a wake ([`super::queue`]) can wait when nobody wakes the sender.
pub const IDLE_CHECK: Duration = Duration::from_secs(1);

pub struct Runtime {
    generation: u64,
    tx: Sender<Task>,
    rx: Receiver<Task>,
    capacity: usize,
    counters: Counters,
    /// Id of the running sender thread, 0 if none (set before spawning, cleared by that thread when it
    /// stops taking tasks). Ids let a thread that ends late never clear the flag of its successor.
    running: AtomicU64,
    /// The id the next thread gets.
    next_thread: AtomicU64,
    /// The last thread ended on a shutdown request, so starting another is not a restart.
    stopped: AtomicBool,
    born: Instant,
    /// Nanoseconds after `born` of the last start; 0 before the first.
    last_start_ns: AtomicU64,
    /// The running sender thread's handle, for waking it; null before the first start. Each started thread
    /// leaks one handle (starts are rare and rate-limited), so a reader never sees a freed one.
    waker: AtomicPtr<thread::Thread>,
}

static CURRENT: AtomicPtr<Runtime> = AtomicPtr::new(ptr::null_mut());
/// 0 when free, else the generation of the holder.
static LOCK: AtomicU64 = AtomicU64::new(0);
/// Queue capacity for the next runtime; 0 means [`DEFAULT_CAPACITY`].
static CAPACITY: AtomicUsize = AtomicUsize::new(0);

/// The queue capacity a runtime created now would get.
pub fn configured_capacity() -> usize {
    match CAPACITY.load(Ordering::Relaxed) {
        0 => DEFAULT_CAPACITY,
        n => n,
    }
}

/// Sets the capacity of the queue; refused (returning the running capacity) once this process's runtime
/// exists with another capacity.
pub fn set_capacity(capacity: usize) -> Result<(), usize> {
    let _lock = Lock::acquire();
    if let Some(runtime) = existing() {
        let capacity = if capacity == 0 {
            DEFAULT_CAPACITY
        } else {
            capacity
        };
        if runtime.capacity != capacity {
            return Err(runtime.capacity);
        }
    }
    CAPACITY.store(capacity, Ordering::Relaxed);
    Ok(())
}

/// This process's runtime, if one was created (in this process, not inherited from a parent).
pub fn existing() -> Option<&'static Runtime> {
    // SAFETY: CURRENT is null or a leaked `Box<Runtime>` that is never freed.
    let runtime = unsafe { CURRENT.load(Ordering::Acquire).as_ref() }?;
    (runtime.generation == fork::generation()).then_some(runtime)
}

/// This process's runtime with a running thread (as far as starting one is possible right now).
pub fn current() -> &'static Runtime {
    match existing() {
        Some(runtime) if runtime.alive() => runtime,
        _ => slow_path(),
    }
}

#[cold]
fn slow_path() -> &'static Runtime {
    // Before locking: a fork after this point gives the child a new generation, which frees the lock there.
    fork::register();
    super::exit::register();
    let _lock = Lock::acquire();
    let runtime = match existing() {
        Some(runtime) => runtime,
        None => {
            let runtime: &'static Runtime =
                Box::leak(Box::new(Runtime::new(configured_capacity())));
            CURRENT.store(ptr::from_ref(runtime).cast_mut(), Ordering::Release);
            runtime
        }
    };
    if !runtime.alive() {
        runtime.start();
    }
    runtime
}

impl Runtime {
    fn new(capacity: usize) -> Self {
        let (tx, rx) = bounded(capacity);
        Self {
            generation: fork::generation(),
            tx,
            rx,
            capacity,
            counters: Counters::default(),
            running: AtomicU64::new(0),
            next_thread: AtomicU64::new(1),
            stopped: AtomicBool::new(false),
            born: Instant::now(),
            last_start_ns: AtomicU64::new(0),
            waker: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// A sender thread is running.
    pub fn alive(&self) -> bool {
        self.running.load(Ordering::Acquire) != 0
    }

    /// The process-wide counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The queue's capacity in events.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Queues a task without waiting and without waking the sender; false when the queue is full. The
    /// sender never blocks inside the channel (it sleeps in [`thread::park_timeout`]), so this is a plain
    /// lock-free push: no system call, whether the sender sleeps or not.
    pub fn try_send(&self, task: Task) -> bool {
        self.tx.try_send(task).is_ok()
    }

    /// Wakes the sender if it sleeps: one futex wake then, an atomic operation otherwise.
    pub fn wake(&self) {
        // SAFETY: null or a leaked handle that is never freed.
        if let Some(thread) = unsafe { self.waker.load(Ordering::Acquire).as_ref() } {
            thread.unpark();
        }
    }

    /// Queues a task, waiting for room until `deadline`, and wakes the sender; false if there was no room.
    pub fn send_deadline(&self, task: Task, deadline: Instant) -> bool {
        // A full queue drains only while the sender runs.
        self.wake();
        let sent = self.tx.send_deadline(task, deadline).is_ok();
        self.wake();
        sent
    }

    /// Called by thread `id` when it takes no more tasks.
    fn thread_ended(&self, id: u64) {
        let _ = self
            .running
            .compare_exchange(id, 0, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// Events waiting in the queue.
    pub fn queue_depth(&self) -> usize {
        self.rx.len()
    }

    /// Starts a thread; called with the lock held and no thread alive.
    fn start(&'static self) {
        let now_ns = (self.born.elapsed().as_nanos() as u64).max(1);
        let last_ns = self.last_start_ns.load(Ordering::Relaxed);
        let requested_stop = self.stopped.swap(false, Ordering::Relaxed);
        if last_ns != 0 && !requested_stop {
            if now_ns - last_ns < RESTART_PAUSE.as_nanos() as u64 {
                // Too soon after the last start: events wait in the queue until a later call.
                return;
            }
            bump(&self.counters.sender_restarts);
        }
        self.last_start_ns.store(now_ns, Ordering::Relaxed);
        let id = self.next_thread.fetch_add(1, Ordering::Relaxed);
        self.running.store(id, Ordering::Release);
        let tasks = self.rx.clone();
        let spawned = thread::Builder::new()
            .name("rcemit-sender".into())
            .spawn(move || thread_main(self, id, tasks));
        if spawned.is_err() {
            self.thread_ended(id);
            bump(&self.counters.spawn_failures);
        }
    }
}

/// Longest a test's pause can hold the sender.
#[cfg(any(test, feature = "testing"))]
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// One unit of work for the sender thread.
pub enum Task {
    /// Send one change to one feed (the payload is still undecoded).
    Event { feed: u32, payload: Box<[u8]> },
    /// Reply once everything queued before this task is done. The caller waits on the reply with its own
    /// deadline; the reply channel has room for the reply, so the sender never waits on a caller.
    Flush { done: Sender<()> },
    /// Like `Flush`, then the thread exits. A later emit starts a new one.
    Shutdown { done: Sender<()> },
    /// Test hook: say so on `started`, then hold the thread until `gate` closes (at most [`MAX_PAUSE`]).
    #[cfg(any(test, feature = "testing"))]
    Pause {
        started: Sender<()>,
        gate: Receiver<()>,
    },
    /// Test hook: the thread panics outside any per-event guard, as a bug in the loop itself would.
    #[cfg(any(test, feature = "testing"))]
    Crash,
}

/// Marks the runtime as without a thread however the loop ends (return or panic).
struct AliveGuard(&'static Runtime, u64);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.thread_ended(self.1);
    }
}

/// The body of sender thread `id`.
///
/// It sleeps in `park_timeout` rather than in the channel's `recv`, so that queueing an event is never a
/// wake-up by itself: callers wake it when they choose ([`Runtime::wake`]), and it looks by itself every
/// [`IDLE_CHECK`].
fn thread_main(runtime: &'static Runtime, id: u64, tasks: Receiver<Task>) {
    let _alive = AliveGuard(runtime, id);
    yield_to_requests();
    let handle = Box::into_raw(Box::new(thread::current()));
    runtime.waker.store(handle, Ordering::Release);
    let counters = &runtime.counters;
    let mut pipeline = Pipeline::default();
    loop {
        let task = match tasks.try_recv() {
            Ok(task) => task,
            Err(TryRecvError::Empty) => {
                // A wake between the check above and this call is not lost: it makes the park return.
                thread::park_timeout(IDLE_CHECK);
                continue;
            }
            Err(TryRecvError::Disconnected) => return,
        };
        match task {
            Task::Event { feed, payload } => {
                counters
                    .queue_bytes
                    .fetch_sub(payload.len() as u64, Relaxed);
                let handled =
                    catch_unwind(AssertUnwindSafe(|| pipeline.event(feed, payload, counters)));
                if handled.is_err() {
                    bump(&counters.format_panics);
                    pipeline.forget();
                }
            }
            Task::Flush { done } => {
                let _ = done.try_send(());
            }
            Task::Shutdown { done } => {
                // Before replying: an emit right after the reply must start a new thread.
                runtime.stopped.store(true, Relaxed);
                runtime.thread_ended(id);
                let _ = done.try_send(());
                return;
            }
            #[cfg(any(test, feature = "testing"))]
            Task::Pause { started, gate } => {
                let _ = started.try_send(());
                let _ = gate.recv_timeout(MAX_PAUSE);
            }
            #[cfg(any(test, feature = "testing"))]
            Task::Crash => panic!("rcemit-sender: crash requested by a test hook"),
        }
    }
}

/// Puts this thread in Linux's SCHED_BATCH class: the request thread that wakes it (a futex wake on every
/// emit after a pause) is then not preempted by it on the spot, so the wake costs the request a system call
/// rather than a context switch; the sender still gets its fair share of CPU a moment later. Best effort: on
/// failure (or another OS) the thread keeps the normal class.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 means the calling thread; SCHED_BATCH needs no privilege and priority 0.
        unsafe {
            libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
        }
    }
}

/// Serialises runtime creation and thread starts (never on the emit fast path).
struct Lock;

impl Lock {
    fn acquire() -> Self {
        let generation = fork::generation();
        loop {
            let holder = LOCK.load(Ordering::Acquire);
            // A holder from an older generation is a parent thread that does not exist in this process.
            if (holder == 0 || holder < generation)
                && LOCK
                    .compare_exchange(holder, generation, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                return Self;
            }
            thread::yield_now();
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        LOCK.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lock held at the time of a fork (by a parent thread that does not exist in the child) is taken over
    /// in the child instead of waited for. Simulated in-process: hold the lock, then run the child handler.
    #[test]
    fn lock_held_across_fork_is_stale_in_the_child() {
        let parent_holder = Lock::acquire();
        std::mem::forget(parent_holder);
        fork::simulate_fork_in_child();
        let child = std::thread::spawn(|| drop(Lock::acquire()));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !child.is_finished() {
            assert!(
                Instant::now() < deadline,
                "the child waited for a lock nobody holds"
            );
            thread::yield_now();
        }
        child.join().unwrap();
    }
}
