//! Holding thousands of idle keep-alive connections, and timing a fresh request meanwhile.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What holding the connections cost the server.
#[derive(Debug, Clone, Copy)]
pub struct IdleReport {
    /// Connections held.
    pub connections: usize,
    /// Resident memory growth per connection, in KiB.
    pub rss_per_connection_kib: f64,
    /// Median time for a new connection's request while the others are held.
    pub fresh_request: Duration,
    /// Percent of one core the server used over a second of holding them, no request sent.
    pub held_cpu_percent: f64,
}

const REQUEST: &[u8] = b"GET /tiny.html HTTP/1.1\r\nHost: bench\r\n\r\n";

/// Opens `count` connections, has each one request answered (so each is a real keep-alive
/// connection, not one still waiting in the listen queue), and keeps them open while it
/// measures the server's memory growth and times 21 fresh requests.
pub fn measure(
    address: SocketAddr,
    count: usize,
    rss_kib: impl Fn() -> u64,
    cpu_time: impl Fn() -> Duration,
) -> io::Result<IdleReport> {
    let before = rss_kib();
    let mut held = Vec::with_capacity(count);
    // Like a browser, each connection sends its request as soon as it is open (a server that
    // defers accept, stage07, only hears of a connection once its request is there), and
    // its answer is read once every request is out.
    for _ in 0..count {
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(REQUEST)?;
        held.push(stream);
    }
    for stream in &mut held {
        read_response(stream)?;
    }
    std::thread::sleep(Duration::from_millis(500));
    let cpu_before = cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    let held_cpu_percent = (cpu_time() - cpu_before).as_secs_f64() * 100.0;
    let after = rss_kib();

    let mut times = Vec::new();
    for _ in 0..21 {
        let started = Instant::now();
        let mut stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        stream.write_all(REQUEST)?;
        read_response(&mut stream)?;
        times.push(started.elapsed());
    }
    times.sort();
    drop(held);
    Ok(IdleReport {
        connections: count,
        rss_per_connection_kib: after.saturating_sub(before) as f64 / count as f64,
        fresh_request: times[times.len() / 2],
        held_cpu_percent,
    })
}

/// Reads one small response: the head, then `Content-Length` bytes.
fn read_response(stream: &mut TcpStream) -> io::Result<()> {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let count = stream.read(&mut buffer)?;
        if count == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed before the response"));
        }
        received.extend_from_slice(&buffer[..count]);
        let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        if received.len() >= end + 4 + length {
            return Ok(());
        }
    }
}
