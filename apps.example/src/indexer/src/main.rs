// Acme indexer: a background worker that would rebuild the search index. It works on a timer;
// systemd stops it with SIGTERM, which ends the process (the work is safe to interrupt).
use std::{env, thread, time::Duration};

fn main() {
    let interval: u64 = env::var("INDEX_INTERVAL_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    let source = env::var("INDEX_SOURCE").unwrap_or_else(|_| "catalog".to_string());
    println!("indexer: started, indexing {} every {}ms", source, interval);
    let mut run: u64 = 0;
    loop {
        run += 1;
        println!("indexer: run {} done, 0 documents changed", run);
        thread::sleep(Duration::from_millis(interval));
    }
}
