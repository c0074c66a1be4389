//! How fast argon2id verifies here: one at a time, then through `Passwords` with the pool's
//! concurrency (one per core). `cargo run --release -p tessera-authn --example password_bench`
// Test and measuring code: a failure should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::time::Instant;

use tessera_admin::crypto::passwords::Passwords;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let passwords = Passwords::new(cores).unwrap();
    let hash = passwords.hash("Bench-Password-1".into()).await.unwrap();

    let n = 40;
    let started = Instant::now();
    for _ in 0..n {
        assert!(
            passwords
                .verify("Bench-Password-1".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
    }
    let one = started.elapsed() / n;
    println!(
        "one at a time: {:.1} ms per verification",
        one.as_secs_f64() * 1e3
    );

    let started = Instant::now();
    let tasks: Vec<_> = (0..n * 2)
        .map(|_| {
            let (passwords, hash) = (passwords.clone(), hash.clone());
            tokio::spawn(async move {
                passwords
                    .verify("Bench-Password-1".into(), Some(hash))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap());
    }
    let rate = f64::from(n * 2) / started.elapsed().as_secs_f64();
    println!("{cores} at once (the pool's bound): {rate:.0} verifications/s");
}
