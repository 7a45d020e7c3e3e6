//! A one-thread HTTP/1.1 server on 127.0.0.1 for the fetch tests: each path answers with
//! bytes, a cut-off body or a trickle; unknown paths get a 404.

#![allow(dead_code)] // each test crate uses part of it

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What the server answers for one path.
#[derive(Clone)]
pub enum Reply {
    /// 200 with these bytes.
    Body(Vec<u8>),
    /// 200 with a Content-Length of `claimed`, then only `bytes`, then the connection closes.
    Cut { bytes: Vec<u8>, claimed: usize },
    /// 200 with these bytes sent one every 10 ms, so a client can stop it mid-file; it ends
    /// when the client goes away.
    Trickle(Vec<u8>),
}

/// A one-thread HTTP/1.1 server on 127.0.0.1:0; unknown paths get a 404. It logs every
/// path asked for.
pub struct Server {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(routes: HashMap<String, Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("test-http".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        serve(stream, &routes, &log2);
                    }
                }
            })
            .unwrap();
        Self {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }

    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        TcpStream::connect(self.addr).ok(); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

fn serve(mut stream: TcpStream, routes: &HashMap<String, Reply>, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() || request_line.is_empty() {
        return;
    }
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    log.lock().unwrap().push(path.clone());
    let head = |status: &str, len: usize| {
        format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    let _ = match routes.get(&path) {
        Some(Reply::Body(bytes)) => stream
            .write_all(head("200 OK", bytes.len()).as_bytes())
            .and_then(|()| stream.write_all(bytes)),
        Some(Reply::Cut { bytes, claimed }) => stream
            .write_all(head("200 OK", *claimed).as_bytes())
            .and_then(|()| stream.write_all(bytes)),
        Some(Reply::Trickle(bytes)) => stream
            .write_all(head("200 OK", bytes.len()).as_bytes())
            .and_then(|()| {
                bytes.iter().try_for_each(|b| {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    stream.write_all(&[*b]).and_then(|()| stream.flush())
                })
            }),
        None => stream.write_all(format!("{}not here", head("404 Not Found", 8)).as_bytes()),
    };
    stream.flush().ok();
    // Dropping the stream closes it: for `Cut`, mid-file.
}

/// Runs the `latentlab` binary with `args` and its download cache in `cache`, with no
/// proxy in its environment (the server is on 127.0.0.1).
pub fn latentlab(args: &[&str], cache: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_latentlab"));
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("LATENTLAB_CACHE", cache)
        .args(args)
        .output()
        .unwrap()
}

/// A run's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The MD5 of `bytes` in lower-case hex, as the mirrors' checksums are written.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
