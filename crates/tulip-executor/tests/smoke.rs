//! Smoke test of the loop's basics (temporary scaffold while the full suite is written).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tulip_executor::*;

#[test]
fn basics() {
    let el = EventLoop::new().unwrap();
    let lp = el.handle();
    let log = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3 {
        let log = log.clone();
        lp.call_soon(move || log.borrow_mut().push(i)).unwrap();
    }
    let l2 = lp.clone();
    lp.call_later(Duration::from_millis(5), move || l2.stop()).unwrap();
    el.run_forever().unwrap();
    assert_eq!(*log.borrow(), vec![0, 1, 2]);
    let r = el
        .run_until_complete(async {
            let t = spawn(async {
                sleep(Duration::from_millis(2)).await;
                7
            });
            t.await.unwrap() + 1
        })
        .unwrap();
    assert_eq!(r, 8);
    let remote = lp.remote();
    let n = el
        .run_until_complete(async move {
            let f = get_running_loop().unwrap().create_future::<u32>();
            let f2 = f.clone();
            let lp = get_running_loop().unwrap();
            let t = lp.run_in_executor(None, || 5u32).await.unwrap();
            std::thread::spawn(move || remote.call_soon_threadsafe(move || {}).unwrap());
            lp.call_soon(move || f2.set_result(t).unwrap()).unwrap();
            f.await.unwrap()
        })
        .unwrap();
    assert_eq!(n, 5);
    el.close().unwrap();
}

#[test]
fn paused_clock_sleep() {
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    let t0 = el.time();
    el.run_until_complete(async { sleep(Duration::from_secs(3600)).await }).unwrap();
    assert!(el.time() - t0 >= Duration::from_secs(3600));
}

#[test]
fn run_cancels_leftovers() {
    struct Flag(Rc<RefCell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            *self.0.borrow_mut() = true;
        }
    }
    let dropped = Rc::new(RefCell::new(false));
    let d = dropped.clone();
    run(async move {
        let f = Flag(d);
        spawn(async move {
            let _f = f;
            sleep(Duration::from_secs(1000)).await;
        })
        .detach();
        yield_now().await;
    })
    .unwrap();
    assert!(*dropped.borrow());
}
