//! The silence watch (`plan::SilenceWatch`): a Dial to peers is watched,
//! and when `peer_timeout` has passed, the legs of a peer that has sent no
//! SIP response at all are given up, so that Dial moves on to the legs still
//! ringing (or returns). A peer that responded with anything, 100 Trying
//! included, rings for the whole ring timeout. One thread keeps the
//! deadlines of all calls.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use res_cluster_core::plan::{SilenceWatch, WatchedPeer};

use crate::ast::channel::{Channel, ChannelPtr};
use crate::ast::guard;
use crate::ast_verb;
use crate::runtime::lock;

/// One Dial being watched.
struct Watch {
    state: Mutex<WatchState>,
}

struct WatchState {
    /// Cleared by `Armed::disarm` when the Dial has returned; the channel is
    /// touched only while it is set, under this mutex.
    armed: bool,
    chan: ChannelPtr,
    peers: Vec<WatchedPeer>,
    phones: bool,
    silenced: Vec<String>,
}

struct Queue {
    /// Deadlines, soonest first, with the watch each belongs to.
    due: BinaryHeap<Reverse<(Instant, u64)>>,
    watches: std::collections::HashMap<u64, Arc<Watch>>,
    next: u64,
    stop: bool,
}

type Shared = Arc<(Mutex<Queue>, Condvar)>;

/// The watching thread; stopped (and joined) when dropped.
pub struct Watcher {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

static CURRENT: Mutex<Option<Shared>> = Mutex::new(None);

impl Watcher {
    pub fn start() -> Result<Watcher, String> {
        let shared: Shared = Arc::new((
            Mutex::new(Queue { due: BinaryHeap::new(), watches: std::collections::HashMap::new(), next: 0, stop: false }),
            Condvar::new(),
        ));
        let mine = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("res_cluster silence".into())
            .spawn(move || run(&mine))
            .map_err(|e| format!("could not start the silence watch thread: {e}"))?;
        *lock(&CURRENT) = Some(Arc::clone(&shared));
        Ok(Watcher { shared, thread: Some(thread) })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        lock(&CURRENT).take();
        lock(&self.shared.0).stop = true;
        self.shared.1.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(shared: &Shared) {
    let (queue, wake) = &**shared;
    let mut q = lock(queue);
    loop {
        if q.stop {
            return;
        }
        let now = Instant::now();
        match q.due.peek().copied() {
            Some(Reverse((at, id))) if at <= now => {
                q.due.pop();
                let watch = q.watches.remove(&id);
                drop(q);
                if let Some(w) = watch {
                    guard::entry("res_cluster silence watch", (), || check(&w));
                }
                q = lock(queue);
            }
            Some(Reverse((at, _))) => q = wake.wait_timeout(q, at - now).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0),
            None => q = wake.wait(q).unwrap_or_else(|p| p.into_inner()),
        }
    }
}

/// At the deadline: the peers with no response are given up.
fn check(watch: &Watch) {
    let mut state = lock(&watch.state);
    if !state.armed {
        return;
    }
    // SAFETY: (the pointer's use, see ChannelPtr) armed, under the
    // watch's mutex: the Dial has not returned, so the channel, which the
    // PBX lends ClusterDial until it returns, is alive.
    let chan = unsafe { state.chan.channel() };
    let responded = chan.dialed_cause_channels();
    let mut silenced = Vec::new();
    for peer in &state.peers {
        let prefix = format!("{}/{}-", peer.technology.as_str(), peer.endpoint);
        if responded.iter().any(|leg| leg.starts_with(&prefix)) {
            continue;
        }
        let cut = chan.hang_up_legs(&prefix, &[], NO_USER_RESPONSE);
        ast_verb!(3, "ClusterDial: peer {} sent no response in time; {cut} leg(s) given up", peer.peer);
        silenced.push(peer.peer.clone());
    }
    if state.phones {
        let cut = chan.hang_up_legs("PJSIP/", &responded, NO_USER_RESPONSE);
        if cut > 0 {
            ast_verb!(3, "ClusterDial: {cut} phone leg(s) sent no response in time (a registration whose phone is gone); given up");
        }
    }
    state.silenced.extend(silenced);
}

/// Q.850 18, no user responding: Dial counts a leg that ends so as
/// "no channel" (CHANUNAVAIL when none is left).
const NO_USER_RESPONSE: i32 = 18;

/// A watch on the Dial the calling channel is about to run; disarmed (the
/// peers it gave up reported) when the Dial has returned.
pub struct Armed {
    watch: Arc<Watch>,
}

impl Armed {
    /// Watches `chan`'s Dial to peers. None when no watcher runs (the
    /// module is being unloaded).
    pub fn arm(chan: &Channel, w: &SilenceWatch) -> Option<Armed> {
        let shared = lock(&CURRENT).clone()?;
        let watch = Arc::new(Watch {
            state: Mutex::new(WatchState { armed: true, chan: chan.as_ptr(), peers: w.peers.clone(), phones: w.phones, silenced: Vec::new() }),
        });
        let (queue, wake) = &*shared;
        let mut q = lock(queue);
        let id = q.next;
        q.next += 1;
        q.due.push(Reverse((Instant::now() + Duration::from_millis(w.after_ms), id)));
        q.watches.insert(id, Arc::clone(&watch));
        drop(q);
        wake.notify_one();
        Some(Armed { watch })
    }

    /// The Dial has returned: no leg is touched from here on. The peers the
    /// watch gave up.
    pub fn disarm(self) -> Vec<String> {
        let mut state = lock(&self.watch.state);
        state.armed = false;
        std::mem::take(&mut state.silenced)
    }
}

impl Drop for Armed {
    /// However the call leaves (`disarm`, or a panic unwinding to the FFI
    /// guard), the channel is not touched once ClusterDial may have returned.
    fn drop(&mut self) {
        lock(&self.watch.state).armed = false;
    }
}
