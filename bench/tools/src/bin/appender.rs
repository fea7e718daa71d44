//! Appends N entries (~500 bytes each, like gen_pool.py's) to a pool through
//! the library's locked append, one `Pool::append` call per entry, as N
//! separate hook processes would, minus the process start.
//!
//! Usage: appender POOL_DIR N INSTANCE
//! Prints the number appended and the elapsed seconds.

use claude_pool::store::entry::{Entry, random_entry_id};
use claude_pool::store::log::Pool;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() != 3 {
        eprintln!("usage: appender POOL_DIR N INSTANCE");
        std::process::exit(2);
    }
    let pool = Pool::open(a[0].clone().into()).expect("open pool");
    let n: usize = a[1].parse().expect("N");
    let words = "pipeline orchestration integration visual image clip llava inference oracle model \
                 training edge hailo jetson npu auth session token cache router parser schema"
        .split(' ')
        .collect::<Vec<_>>();
    let t0 = std::time::Instant::now();
    for i in 0..n {
        let w = |k: usize| words[(i * 7 + k * 13) % words.len()];
        let topic = format!("{} {} {} {} #{i}", w(1), w(2), w(3), w(4));
        let summary = (0..24).map(|k| w(k + 5)).collect::<Vec<_>>().join(" ");
        let e = Entry {
            id: random_entry_id(&topic).into(),
            timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
            source_instance: a[2].clone().into(),
            session_id: format!("{:08x}", std::process::id()).into(),
            action: "completed".into(),
            topic: topic.into(),
            summary: summary.into(),
            affects: "src/parser_schema.py, src/token_cache.py".into(),
            origin: "post".into(),
            ..Entry::default()
        };
        let now = e.timestamp;
        pool.append(&[e], now).expect("append");
    }
    println!("{n} {:.6}", t0.elapsed().as_secs_f64());
}
