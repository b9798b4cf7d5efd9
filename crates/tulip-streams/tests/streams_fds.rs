//! No descriptor leaks: servers, clients, failed connections and dropped
//! streams leave the process with the descriptors it had (a single test,
//! so that no other test opens descriptors meanwhile).

mod common;

use std::time::Duration;

use tulip_executor::sleep;
use tulip_streams::{
    ConnectOptions, Error, ServerOptions, StreamReader, StreamWriter, open_connection, start_server,
};
use tulip_test::{fd_count, run, wait_until};

#[test]
fn streams_leak_no_descriptor() {
    run(async {
        // Warm up the loop's own descriptors and the resolver.
        sleep(Duration::from_millis(1)).await;
        let before = fd_count();
        let server = start_server(
            |mut reader: StreamReader, writer: StreamWriter| async move {
                let line = reader.readline().await?;
                writer.write(&line)?;
                // Returning drops the streams: the connection closes.
                Ok::<(), Error>(())
            },
            "127.0.0.1",
            0,
            ServerOptions::new(),
        )
        .await
        .unwrap();
        let port = server.sockets()[0].inet_addr().unwrap().port();
        for i in 0..100 {
            let (mut reader, writer) = open_connection("127.0.0.1", port, ConnectOptions::new())
                .await
                .unwrap();
            writer.write(format!("line {i}\n").as_bytes()).unwrap();
            assert_eq!(
                reader.readline().await.unwrap(),
                format!("line {i}\n").as_bytes()
            );
            assert_eq!(reader.read(10).await.unwrap(), b"");
            if i % 2 == 0 {
                writer.close();
                writer.wait_closed().await.unwrap();
            }
            // Odd ones are just dropped.
        }
        // A refused connection.
        server.close();
        server.wait_closed().await;
        assert!(
            open_connection("127.0.0.1", port, ConnectOptions::new())
                .await
                .is_err()
        );
        assert!(
            wait_until(|| fd_count() <= before).await,
            "{} descriptors before, {} after",
            before,
            fd_count()
        );
    });
}
