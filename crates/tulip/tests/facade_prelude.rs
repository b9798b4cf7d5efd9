//! The facade is enough on its own: `use tulip::prelude::*` brings the task
//! toolkit (`gather`, `try_gather`, `wait`, `wait_for`, `wait_for_task`,
//! `timeout`, `timeout_at`, `shield`, `task_group`, `as_completed`,
//! `all_tasks`, `current_task`) and the stream and I/O traits with the
//! extension traits that give them methods; `tulip::stream` and `tulip::io`
//! name them. No futures crate is imported here. Virtual clock.

use std::time::Duration;

use tulip::prelude::*;
use tulip::streams::StreamReader;

#[test]
fn the_prelude_holds_the_task_toolkit() {
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    el.run_until_complete(async {
        let me = current_task().expect("inside a task");
        assert_eq!(all_tasks().len(), 1);
        assert!(all_tasks()[0].same_task(&me));

        let pair = (1..=2).map(|i| async move { i }).collect::<Vec<_>>();
        assert_eq!(gather(pair).await.unwrap(), [1, 2]);
        let ok: Result<(i32, i32), Error> =
            try_gather((async { Ok::<_, Error>(3) }, async { Ok::<_, Error>(4) })).await;
        assert_eq!(ok.unwrap(), (3, 4));

        let quick = spawn(async { 5 });
        let slow = spawn(sleep(Duration::from_secs(60)));
        let (done, pending) = wait(
            vec![quick.task_ref(), slow.task_ref()],
            Some(Duration::from_secs(1)),
            tulip::ReturnWhen::AllCompleted,
        )
        .await;
        assert_eq!((done.len(), pending.len()), (1, 1));
        assert!(
            wait_for(slow, Duration::from_secs(1))
                .await
                .unwrap_err()
                .is_timeout()
        );
        assert_eq!(
            wait_for_task(quick, Duration::from_secs(1)).await.unwrap(),
            5
        );

        assert!(
            timeout(Duration::from_secs(1))
                .run(sleep(Duration::from_secs(2)))
                .await
                .unwrap_err()
                .is_timeout()
        );
        let deadline = get_running_loop().unwrap().time() + Duration::from_secs(1);
        assert_eq!(timeout_at(deadline).run(async { 6 }).await.unwrap(), 6);
        assert_eq!(shield(async { 7 }).await.unwrap(), 7);

        let sum = task_group(|tg| async move {
            let a = tg.create_task(async { 20 })?;
            let b = tg.create_task(async { 22 })?;
            Ok::<_, Error>(a.await? + b.await?)
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(sum, 42);

        let mut firsts = as_completed(
            [2, 1].map(|s| async move {
                sleep(Duration::from_secs(s)).await;
                s
            }),
            None,
        );
        // `next` comes from the prelude's StreamExt.
        assert_eq!(firsts.next().await.unwrap().unwrap(), 1);
        assert_eq!(firsts.next().await.unwrap().unwrap(), 2);
        assert!(firsts.next().await.is_none());
    })
    .unwrap();
}

/// Accepts only a `tulip::stream::Stream` of lines.
fn is_line_stream<S: tulip::stream::Stream<Item = tulip::streams::Result<Vec<u8>>>>(_: &S) {}

/// Accepts only a `tulip::io::AsyncBufRead`.
fn is_buf_read<R: tulip::io::AsyncBufRead>(_: &R) {}

#[test]
fn stream_and_io_traits_come_from_the_facade() {
    let el = EventLoop::builder().paused_clock(true).build().unwrap();
    el.run_until_complete(async {
        let reader = StreamReader::new();
        is_line_stream(&reader);
        is_buf_read(&reader);
        reader.feed_data(b"first\nsecond\nthird\n");
        reader.feed_eof();
        let mut reader = reader;
        // AsyncBufReadExt (prelude) on the reader.
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "first\n");
        // StreamExt and TryStreamExt (prelude) on its lines.
        assert_eq!(reader.next().await.unwrap().unwrap(), b"second\n");
        let rest: Vec<Vec<u8>> = reader.try_collect().await.unwrap();
        assert_eq!(rest, [b"third\n".to_vec()]);
        // AsyncWriteExt through tulip::io, on any writer.
        let mut out = Vec::new();
        tulip::io::copy(&mut &b"copied"[..], &mut out)
            .await
            .unwrap();
        out.write_all(b"!").await.unwrap();
        assert_eq!(out, b"copied!");
    })
    .unwrap();
}
