//! The await graph through the task toolkit: tasks awaiting tasks, gather,
//! TaskGroup, shield, wait, wait_for_task and as_completed; a cycle is
//! reported, not followed; a link goes when its awaiter gives up.
//! Virtual clock.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use tulip::graph::{AwaitVia, CallGraph, TaskState, WaitDetail};
use tulip::prelude::*;
use tulip::{EventLoop, ReturnWhen, capture_call_graph, format_call_graph};

fn paused() -> EventLoop {
    EventLoop::builder().paused_clock(true).build().unwrap()
}

fn ids(nodes: &[CallGraph]) -> Vec<u64> {
    nodes.iter().map(|n| n.task.id).collect()
}

/// Lets every task started so far run to its first suspension.
async fn settle() {
    for _ in 0..3 {
        yield_now().await;
    }
}

#[test]
fn task_awaiting_task_links_both_ways() {
    paused()
        .run_until_complete(async {
            let child = spawn(async { sleep(Duration::from_secs(60)).await });
            let child_id = child.id();
            let child_ref = child.task_ref();
            let parent = spawn(child);
            settle().await;

            let down = capture_call_graph(&parent);
            assert_eq!(down.task.id, parent.id());
            assert_eq!(down.task.state, TaskState::Pending);
            assert_eq!(ids(&down.awaits), [child_id]);
            assert_eq!(down.awaits[0].via, Some(AwaitVia::Await));
            let w = down.task.waiting_on.unwrap();
            assert_eq!((w.what, w.detail), ("Task", WaitDetail::Task(child_id)));
            let leaf = down.awaits[0].task.waiting_on.unwrap();
            assert_eq!(leaf.what, "sleep");
            match leaf.detail {
                WaitDetail::Remaining(d) => {
                    assert!(d > Duration::from_secs(50) && d <= Duration::from_secs(60))
                }
                other => panic!("a sleep says how long is left, not {other:?}"),
            }

            let up = capture_call_graph(&child_ref);
            assert_eq!(ids(&up.awaited_by), [parent.id()]);
            assert_eq!(up.awaited_by[0].via, Some(AwaitVia::Await));
            // The main task awaits neither, so the chain ends at the parent.
            assert!(up.awaited_by[0].awaited_by.is_empty());
            parent.cancel();
            settle().await;
            // Done: its graph is the task alone.
            let gone = capture_call_graph(&parent);
            assert_eq!(gone.task.state, TaskState::Cancelled);
            assert!(gone.awaits.is_empty() && gone.task.waiting_on.is_none());
        })
        .unwrap();
}

#[test]
fn gather_tree_shows_every_child_and_what_it_waits_on() {
    paused()
        .run_until_complete(async {
            let q: tulip::sync::Queue<u32> = tulip::sync::Queue::new(0);
            let q2 = q.clone();
            let parent = spawn(async move {
                gather((async move { q2.get().await.unwrap() }, async {
                    sleep(Duration::from_secs(30)).await;
                    1
                }))
                .await
            });
            settle().await;
            let g = capture_call_graph(&parent);
            assert_eq!(g.awaits.len(), 2);
            assert!(g.awaits.iter().all(|c| c.via == Some(AwaitVia::Gather)));
            let what: Vec<&str> = g
                .awaits
                .iter()
                .map(|c| c.task.waiting_on.unwrap().what)
                .collect();
            assert_eq!(what, ["Queue.get", "sleep"]);
            let w = g.task.waiting_on.unwrap();
            assert_eq!((w.what, w.detail), ("gather", WaitDetail::Count(2)));
            // Up from a child: the parent, through gather.
            let child = all_tasks()
                .into_iter()
                .find(|t| t.id() == g.awaits[0].task.id)
                .unwrap();
            let up = capture_call_graph(&child);
            assert_eq!(ids(&up.awaited_by), [parent.id()]);
            assert_eq!(up.awaited_by[0].via, Some(AwaitVia::Gather));
            // One child done: the gather says one is left.
            q.put_nowait(7).unwrap();
            settle().await;
            let g = capture_call_graph(&parent);
            assert_eq!(g.awaits.len(), 1);
            assert_eq!(g.task.waiting_on.unwrap().detail, WaitDetail::Count(1));
            parent.cancel();
        })
        .unwrap();
}

#[test]
fn task_group_children_hang_from_the_group_task() {
    paused()
        .run_until_complete(async {
            let lock = tulip::sync::Lock::new();
            let held = lock.acquire().await;
            let event = tulip::sync::Event::new();
            let (l2, e2) = (lock.clone(), event.clone());
            let owner = spawn(async move {
                task_group(|tg| async move {
                    tg.create_task(async move { drop(l2.acquire().await) })?
                        .detach();
                    tg.create_task(async move { e2.wait().await })?.detach();
                    Ok::<_, tulip::Error>(())
                })
                .await
            });
            settle().await;
            let g = capture_call_graph(&owner);
            assert_eq!(g.awaits.len(), 2, "{g}");
            assert!(g.awaits.iter().all(|c| c.via == Some(AwaitVia::TaskGroup)));
            let what: Vec<&str> = g
                .awaits
                .iter()
                .map(|c| c.task.waiting_on.unwrap().what)
                .collect();
            assert_eq!(what, ["Lock.acquire", "Event.wait"]);
            let w = g.task.waiting_on.unwrap();
            assert_eq!((w.what, w.detail), ("TaskGroup", WaitDetail::Count(2)));
            drop(held);
            event.set();
            let r = owner.await.unwrap();
            assert!(r.is_ok());
        })
        .unwrap();
}

#[test]
fn shield_links_the_inner_task_until_the_outer_gives_up() {
    paused()
        .run_until_complete(async {
            let inner: Rc<RefCell<Option<TaskRef>>> = Rc::default();
            let i = inner.clone();
            let outer = spawn(async move {
                let s = shield(async { sleep(Duration::from_secs(10)).await });
                *i.borrow_mut() = Some(s.task().task_ref());
                s.await
            });
            settle().await;
            let inner = inner.borrow().clone().unwrap();
            let up = capture_call_graph(&inner);
            assert_eq!(ids(&up.awaited_by), [outer.id()]);
            assert_eq!(up.awaited_by[0].via, Some(AwaitVia::Shield));
            outer.cancel();
            settle().await;
            // The outer is gone; the inner runs on, awaited by nobody.
            let up = capture_call_graph(&inner);
            assert_eq!(up.task.state, TaskState::Pending);
            assert!(up.awaited_by.is_empty());
        })
        .unwrap();
}

#[test]
fn wait_wait_for_task_and_as_completed_say_how() {
    paused()
        .run_until_complete(async {
            let a = spawn(sleep(Duration::from_secs(100)));
            let a_ref = a.task_ref();
            let waiter = spawn(async move { wait(vec![a], None, ReturnWhen::AllCompleted).await });
            let b = spawn(sleep(Duration::from_secs(100)));
            let b_ref = b.task_ref();
            let timed = spawn(async move { wait_for_task(b, Duration::from_secs(50)).await });
            let racer = spawn(async {
                let mut it = as_completed(vec![sleep(Duration::from_secs(100))], None);
                it.next().await
            });
            settle().await;

            let up = capture_call_graph(&a_ref);
            assert_eq!(
                (ids(&up.awaited_by), up.awaited_by[0].via),
                (vec![waiter.id()], Some(AwaitVia::Wait))
            );
            assert_eq!(
                capture_call_graph(&waiter).task.waiting_on.unwrap().what,
                "wait"
            );
            let up = capture_call_graph(&b_ref);
            assert_eq!(
                (ids(&up.awaited_by), up.awaited_by[0].via),
                (vec![timed.id()], Some(AwaitVia::WaitFor))
            );
            let r = capture_call_graph(&racer);
            assert_eq!(r.awaits.len(), 1);
            assert_eq!(r.awaits[0].via, Some(AwaitVia::AsCompleted));
            assert_eq!(r.task.waiting_on.unwrap().what, "as_completed");
            // wait gave up (cancelled): its links go with it.
            waiter.cancel();
            settle().await;
            assert!(capture_call_graph(&a_ref).awaited_by.is_empty());
            timed.cancel();
            racer.cancel();
        })
        .unwrap();
}

#[test]
fn a_cycle_is_reported_not_followed() {
    paused()
        .run_until_complete(async {
            type Slot = Rc<RefCell<Option<Task<()>>>>;
            let slot_a: Slot = Rc::default();
            let slot_b: Slot = Rc::default();
            let (sa, sb) = (slot_a.clone(), slot_b.clone());
            // A awaits B, B awaits A: a deadlock tulip shows as a cycle.
            let a = spawn(async move {
                yield_now().await;
                let b = sb.borrow_mut().take().unwrap();
                let _ = b.await;
            });
            let a_ref = a.task_ref();
            let b = spawn(async move {
                yield_now().await;
                let a = sa.borrow_mut().take().unwrap();
                let _ = a.await;
            });
            let b_id = b.id();
            *slot_a.borrow_mut() = Some(a);
            *slot_b.borrow_mut() = Some(b);
            settle().await;

            let g = capture_call_graph(&a_ref);
            assert_eq!(ids(&g.awaits), [b_id]);
            let back = &g.awaits[0].awaits;
            assert_eq!(ids(back), [a_ref.id()]);
            assert!(back[0].cycle && back[0].awaits.is_empty());
            assert_eq!(ids(&g.awaited_by), [b_id]);
            assert!(g.awaited_by[0].awaited_by[0].cycle);
            let text = format_call_graph(&g);
            assert!(text.contains("cycle"), "{text}");
            a_ref.cancel();
            settle().await;
        })
        .unwrap();
}

#[test]
fn formatted_graph_names_each_task_and_its_site() {
    paused()
        .run_until_complete(async {
            let child = spawn(async { sleep(Duration::from_secs(5)).await });
            let child_line = line!() - 1;
            let parent = spawn(child);
            settle().await;
            let text = format_call_graph(&capture_call_graph(&parent));
            let lines: Vec<&str> = text.lines().collect();
            assert!(
                lines[0].starts_with(&format!(
                    "* Task(name='{}', id={}, state=pending)",
                    parent.get_name(),
                    parent.id()
                )),
                "{text}"
            );
            assert_eq!(
                lines[1].trim(),
                format!("+ waiting on: Task (task {})", parent.id() - 1)
            );
            assert_eq!(lines[2].trim(), "+ awaits:");
            assert!(lines[3].trim().contains("via=await) created at"), "{text}");
            assert!(
                lines[3].ends_with(&format!("graph_trees.rs:{child_line}:25")),
                "{text}"
            );
            assert!(
                lines[4].trim().starts_with("+ waiting on: sleep ("),
                "{text}"
            );
            parent.cancel();
        })
        .unwrap();
}

#[test]
fn toolkit_children_are_created_where_the_toolkit_is_called() {
    paused()
        .run_until_complete(async {
            let main_id = current_task().unwrap().id();
            let hour = || sleep(Duration::from_secs(3600));
            let by_vec = gather(vec![hour(), hour()]);
            let vec_line = line!() - 1;
            let by_tuple = gather((hour(), hour()));
            let tuple_line = line!() - 1;
            let tried = try_gather(vec![async { Ok::<_, tulip::Error>(()) }]);
            let try_line = line!() - 1;
            let stream = as_completed(vec![hour()], None);
            let stream_line = line!() - 1;
            let mut lines: Vec<u32> = all_tasks()
                .iter()
                .filter(|t| t.id() != main_id)
                .map(|t| {
                    let site = capture_call_graph(t).task.created_at;
                    assert!(site.file().ends_with("graph_trees.rs"), "{site}");
                    site.line()
                })
                .collect();
            lines.sort();
            assert_eq!(
                lines,
                [
                    vec_line,
                    vec_line,
                    tuple_line,
                    tuple_line,
                    try_line,
                    stream_line
                ]
            );
            drop((by_vec, by_tuple, tried, stream));
        })
        .unwrap();
}
