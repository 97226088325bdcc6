//! Time and peak memory of the media function's check: a 12 MP phone JPEG verified, stripped,
//! shrunk to its web version and thumbnail, kept and sent to be attached; and a 50 MB phone MP4
//! stripped of its location. Run with `cargo bench -p cityfix-app --features samples --bench media`.
//!
//! Storage and the queue are in memory, so the figures are the work of the function itself (the
//! status write that attaches the file is measured by the pipeline benchmark). Peak memory counts
//! every allocation from the upload's arrival to the end of the check, the upload itself included.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use cityfix_app::media::{check_upload, Checked, MediaDeps};
use cityfix_app::ports::{
    MediaStore, PortError, PortResult, Queue, QueueName, StoredFile, UploadForm,
};
use cityfix_app::samples::{phone_video, photo_with_location};

/// Counts the bytes allocated now and the most since the last reset.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Media storage in memory.
#[derive(Default)]
struct Memory(Mutex<HashMap<String, Vec<u8>>>);

#[async_trait::async_trait]
impl MediaStore for Memory {
    async fn upload_form(&self, _: &str, _: &str, _: u64, _: Duration) -> PortResult<UploadForm> {
        unimplemented!("the benchmark puts uploads directly")
    }

    async fn download_url(&self, key: &str, _: Duration) -> PortResult<String> {
        Ok(key.to_string())
    }

    async fn head(&self, key: &str) -> PortResult<Option<StoredFile>> {
        Ok(self.0.lock().unwrap().get(key).map(|bytes| StoredFile {
            size: bytes.len() as u64,
            content_type: None,
        }))
    }

    /// Hands the bytes over, as a download from S3 does: the function holds the one copy.
    async fn get(&self, key: &str) -> PortResult<Vec<u8>> {
        let mut files = self.0.lock().unwrap();
        files
            .remove(key)
            .ok_or_else(|| PortError::NotFound(key.to_string()))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, _: &str) -> PortResult<()> {
        let mut files = self.0.lock().unwrap();
        if files.contains_key(key) {
            return Err(PortError::AlreadyExists(key.to_string()));
        }
        files.insert(key.to_string(), bytes);
        Ok(())
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }

    async fn keys(&self, prefix: &str, limit: usize) -> PortResult<Vec<String>> {
        let mut keys: Vec<String> = self
            .0
            .lock()
            .unwrap()
            .keys()
            .filter(|key| key.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort();
        keys.truncate(limit);
        Ok(keys)
    }
}

/// A queue that forgets what it is sent.
struct Nowhere;

#[async_trait::async_trait]
impl Queue for Nowhere {
    async fn send(&self, _: QueueName, _: &str) -> PortResult<()> {
        Ok(())
    }

    async fn send_delayed(&self, _: QueueName, _: &str, _: std::time::Duration) -> PortResult<()> {
        Ok(())
    }
}

/// Runs a future to its end on this thread (everything here is ready at once).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// Checks `bytes` uploaded at `key` `runs` times; gives the fastest time and the highest peak.
fn measure(key: &str, bytes: &[u8], content_type: &str, runs: usize) -> (Duration, usize) {
    let (mut fastest, mut peak) = (Duration::MAX, 0);
    for _ in 0..runs {
        let media = Arc::new(Memory::default());
        let deps = MediaDeps {
            media: media.clone(),
            queue: Arc::new(Nowhere),
            public_url: "http://cityfix.test".into(),
        };
        let before = NOW.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let started = Instant::now();
        block_on(async {
            // The upload arrives in storage; it counts from here as the function's download.
            media.put(key, bytes.to_vec(), content_type).await.unwrap();
            let checked = check_upload(&deps, key).await.unwrap();
            assert!(matches!(checked, Checked::Attached { .. }), "{checked:?}");
            media.delete(key).await.unwrap();
        });
        fastest = fastest.min(started.elapsed());
        peak = peak.max(PEAK.load(Ordering::Relaxed) - before);
    }
    (fastest, peak)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter.
    let photo = photo_with_location(4000, 3000, 6);
    let (took, peak) = measure(
        "uploads/7K3M-9QZ2/0a1b2c3d-photo.jpg",
        &photo,
        "image/jpeg",
        5,
    );
    println!(
        "12 MP JPEG ({:.1} MB): verify, strip, web version, thumbnail, keep: {:.0} ms, peak {:.0} MB (goal < 1,000 ms, < 256 MB)",
        mb(photo.len()),
        took.as_secs_f64() * 1000.0,
        mb(peak)
    );

    let mut frames = vec![0u8; 50 * 1024 * 1024];
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for chunk in frames.chunks_mut(8) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        chunk.copy_from_slice(&seed.to_le_bytes()[..chunk.len()]);
    }
    let video = phone_video(&frames);
    drop(frames);
    let (took, peak) = measure(
        "uploads/7K3M-9QZ2/0a1b2c3d-video.mp4",
        &video,
        "video/mp4",
        5,
    );
    println!(
        "50 MB MP4: verify, strip location, keep: {:.0} ms, peak {:.0} MB ({:.2}× the file)",
        took.as_secs_f64() * 1000.0,
        mb(peak),
        peak as f64 / video.len() as f64
    );
}
