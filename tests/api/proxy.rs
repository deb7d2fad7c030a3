//! A TCP proxy between the service and a real server, that a test can cut (connections dropped, new ones refused
//! at once), black-hole (connections accepted, nothing forwarded: a hung server) or restore; and a one-shot trap
//! that drops a connection at its next `COMMIT` (forwarded to the server or not) before any reply comes back: a
//! COMMIT whose outcome the client cannot know.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

const UP: u8 = 0;
const CUT: u8 = 1;
const BLACKHOLE: u8 = 2;

const TRAP_OFF: u8 = 0;
const TRAP_AFTER_FORWARD: u8 = 1;
const TRAP_BEFORE_FORWARD: u8 = 2;

/// The simple-protocol Query message `COMMIT` as `db::retry` sends it: 'Q', length 11 (big-endian, including
/// itself), "COMMIT", NUL. Matching the whole message (not the word) ignores SQL text that merely mentions it.
const COMMIT_MESSAGE: &[u8] = b"Q\0\0\0\x0bCOMMIT\0";

/// Copies both ways; springs the commit trap on a client chunk holding the COMMIT message.
async fn pump(inbound: TcpStream, outbound: TcpStream, trap: Arc<AtomicU8>) {
    let (mut client_rx, mut client_tx) = inbound.into_split();
    let (mut server_rx, mut server_tx) = outbound.into_split();
    let to_server = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = client_rx.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(());
            }
            let chunk = &buf[..n];
            let armed = trap.load(Ordering::SeqCst);
            if armed != TRAP_OFF
                && chunk.windows(COMMIT_MESSAGE.len()).any(|w| w == COMMIT_MESSAGE)
                && trap.compare_exchange(armed, TRAP_OFF, Ordering::SeqCst, Ordering::SeqCst).is_ok()
            {
                if armed == TRAP_AFTER_FORWARD {
                    server_tx.write_all(chunk).await?;
                    server_tx.flush().await?;
                }
                // Returning drops both connections before any reply is relayed.
                return Ok(());
            }
            server_tx.write_all(chunk).await?;
        }
    };
    let to_client = tokio::io::copy(&mut server_rx, &mut client_tx);
    tokio::select! {
        biased;
        _ = to_server => {}
        _ = to_client => {}
    }
}

/// A running proxy; stopped when dropped.
pub struct Proxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    trap: Arc<AtomicU8>,
    generation: watch::Sender<u64>,
    held: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `target` on a free loopback port.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let mode = Arc::new(AtomicU8::new(UP));
        let trap = Arc::new(AtomicU8::new(TRAP_OFF));
        let (generation, _) = watch::channel(0u64);
        let held = Arc::new(Notify::new());
        let task = {
            let held = held.clone();
            let mode = mode.clone();
            let trap = trap.clone();
            let generation = generation.clone();
            tokio::spawn(async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    match mode.load(Ordering::SeqCst) {
                        CUT => drop(inbound),
                        BLACKHOLE => {
                            held.notify_one();
                            let mut cut = generation.subscribe();
                            tokio::spawn(async move {
                                let _ = cut.changed().await;
                                drop(inbound);
                            });
                        }
                        _ => {
                            let mut cut = generation.subscribe();
                            let trap = trap.clone();
                            tokio::spawn(async move {
                                let Ok(outbound) = TcpStream::connect(target).await else { return };
                                tokio::select! {
                                    () = pump(inbound, outbound, trap) => {}
                                    _ = cut.changed() => {}
                                }
                            });
                        }
                    }
                }
            })
        };
        Self { addr, mode, trap, generation, held, task }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Drops every connection and refuses new ones (a stopped server).
    pub fn cut(&self) {
        self.set(CUT);
    }

    /// Drops every connection; new ones are accepted but never answered (a hung server or a lost network).
    pub fn blackhole(&self) {
        self.set(BLACKHOLE);
    }

    /// Returns once the black hole holds a connection (at once if it has held one since the last call): a client
    /// is now waiting on it.
    pub async fn holding(&self) {
        self.held.notified().await;
    }

    /// Arms the one-shot trap: the next connection to send `COMMIT` is dropped before any reply reaches the client;
    /// the COMMIT itself reaches the server when `forward` (it commits, and the client cannot know) or not (it
    /// never commits). Other connections, and new ones, work as usual.
    pub fn drop_at_next_commit(&self, forward: bool) {
        self.trap.store(if forward { TRAP_AFTER_FORWARD } else { TRAP_BEFORE_FORWARD }, Ordering::SeqCst);
    }

    /// Whether the armed trap has sprung.
    pub fn commit_trap_sprung(&self) -> bool {
        self.trap.load(Ordering::SeqCst) == TRAP_OFF
    }

    /// Forwards again (existing connections were dropped by `cut`/`blackhole`; new ones work).
    pub fn restore(&self) {
        self.mode.store(UP, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.generation.send_modify(|g| *g += 1);
    }
}
