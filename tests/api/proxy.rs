//! A TCP proxy between the service and a real server, that a test can cut (connections dropped, new ones refused
//! at once), black-hole (connections accepted, nothing forwarded: a hung server) or restore.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const UP: u8 = 0;
const CUT: u8 = 1;
const BLACKHOLE: u8 = 2;

/// A running proxy; stopped when dropped.
pub struct Proxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `target` on a free loopback port.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let mode = Arc::new(AtomicU8::new(UP));
        let (generation, _) = watch::channel(0u64);
        let task = {
            let mode = mode.clone();
            let generation = generation.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    match mode.load(Ordering::SeqCst) {
                        CUT => drop(inbound),
                        BLACKHOLE => {
                            let mut cut = generation.subscribe();
                            tokio::spawn(async move {
                                let _ = cut.changed().await;
                                drop(inbound);
                            });
                        }
                        _ => {
                            let mut cut = generation.subscribe();
                            tokio::spawn(async move {
                                let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                                tokio::select! {
                                    _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                                    _ = cut.changed() => {}
                                }
                            });
                        }
                    }
                }
            })
        };
        Self { addr, mode, generation, task }
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
