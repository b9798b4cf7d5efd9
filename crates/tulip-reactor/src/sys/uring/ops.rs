//! The table of completion operations in flight: what each owns (buffers,
//! message headers) until its final completion, who receives its results,
//! and the turning of completion queue entries into [`Completion`]s.
//!
//! An operation's `user_data` is its [`OpId`]: a table index plus a
//! generation, so a slot reused after an operation ended is never mistaken
//! for the old one. A slot is freed only by the operation's final
//! completion, which is therefore delivered exactly once, whether the
//! operation ended by itself, failed, or was cancelled.

use std::collections::VecDeque;
use std::io;
use std::mem::MaybeUninit;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;

use io_uring::{cqueue, opcode, squeue, types};

use super::bufring::{BGID, BufRing};
use super::{Done, TAG_OP, UD_IGNORE, Uring};
use crate::completion::{Completion, Op, OpHandler, OpId, Payload};

/// A message header with the address and the single iovec it points to,
/// boxed so the kernel's pointers into it stay valid while it is in flight.
struct Msg {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: libc::sockaddr_storage,
}

/// What an operation owns while the kernel may use it.
enum Held {
    RecvMulti {
        fd: RawFd,
    },
    Recv {
        fd: RawFd,
        buf: Vec<u8>,
    },
    Send {
        fd: RawFd,
        buf: Vec<u8>,
        offset: usize,
    },
    Shutdown {
        fd: RawFd,
        how: i32,
    },
    AcceptMulti {
        fd: RawFd,
    },
    RecvMsg {
        fd: RawFd,
        buf: Vec<u8>,
        msg: Box<Msg>,
    },
    SendMsg {
        fd: RawFd,
        buf: Vec<u8>,
        msg: Box<Msg>,
    },
}

struct Live {
    handler: Rc<dyn OpHandler>,
    held: Held,
    cancelled: bool,
    /// A multishot receive the kernel ended with `ENOBUFS`, waiting for
    /// ring buffers to come back (not in the kernel).
    starved: bool,
}

struct Slot {
    generation: u32,
    live: Option<Live>,
}

/// The operations in flight.
#[derive(Default)]
pub(super) struct Ops {
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    starved: VecDeque<u32>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

const GEN_MASK: u32 = (1 << 30) - 1;

fn op_id(index: u32, generation: u32) -> OpId {
    OpId((TAG_OP << 62) | (u64::from(generation & GEN_MASK) << 32) | u64::from(index))
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// A completion entry's result: bytes (or a descriptor) or the OS error.
fn result_of(res: i32) -> io::Result<usize> {
    usize::try_from(res).map_err(|_| io::Error::from_raw_os_error(-res))
}

impl Ops {
    pub(super) fn live(&self) -> usize {
        self.live
    }

    fn get_mut(&mut self, id: OpId) -> Option<&mut Live> {
        let index = (id.0 & 0xffff_ffff) as usize;
        let generation = ((id.0 >> 32) as u32) & GEN_MASK;
        let slot = self.slots.get_mut(index)?;
        if slot.generation & GEN_MASK != generation {
            return None;
        }
        slot.live.as_mut()
    }

    fn insert(&mut self, live: Live) -> OpId {
        self.live += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.live = Some(live);
            return op_id(index, slot.generation);
        }
        let index = self.slots.len() as u32;
        self.slots.push(Slot {
            generation: 0,
            live: Some(live),
        });
        op_id(index, 0)
    }

    fn remove(&mut self, id: OpId) -> Option<Live> {
        let index = (id.0 & 0xffff_ffff) as usize;
        let slot = self.slots.get_mut(index)?;
        let live = slot.live.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index as u32);
        self.live -= 1;
        Some(live)
    }

    /// Every operation still in flight.
    pub(super) fn ids(&self) -> Vec<OpId> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live.is_some())
            .map(|(i, s)| op_id(i as u32, s.generation))
            .collect()
    }

    /// Gives up on operations the kernel never ended: their memory is
    /// leaked, never freed under the kernel.
    pub(super) fn leak_all(&mut self) {
        for slot in &mut self.slots {
            if let Some(live) = slot.live.take() {
                std::mem::forget(live.held);
            }
        }
    }
}

fn sockaddr_in(addr: SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any
            // socket address, sockaddr_in included.
            let sin = unsafe {
                &mut *(storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from(*a.ip()).to_be(),
            };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo().to_be();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_scope_id = a.scope_id();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

fn sockaddr_out(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(storage.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the kernel wrote a sockaddr_in, and
            // the storage is large and aligned enough for it.
            let sin =
                unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe {
                &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

fn new_msg() -> Box<Msg> {
    // SAFETY: msghdr, iovec and sockaddr_storage are plain C structs for
    // which all-zero bytes are a valid (empty) value.
    let mut msg: Box<Msg> = Box::new(unsafe { MaybeUninit::zeroed().assume_init() });
    let m = &mut *msg;
    m.hdr.msg_iov = &mut m.iov;
    m.hdr.msg_iovlen = 1;
    msg
}

fn clamp_len(n: usize) -> u32 {
    n.min(u32::MAX as usize) as u32
}

impl Held {
    /// Takes `op` over, checking what the kernel cannot.
    fn from_op(op: Op) -> io::Result<Held> {
        Ok(match op {
            Op::RecvMulti { fd } => Held::RecvMulti { fd },
            Op::Recv { fd, buf } => {
                if buf.capacity() == buf.len() {
                    return Err(invalid(format!(
                        "receive on fd {fd}: the buffer has no spare capacity"
                    )));
                }
                Held::Recv { fd, buf }
            }
            Op::Send { fd, buf, offset } => {
                if offset > buf.len() {
                    return Err(invalid(format!(
                        "send on fd {fd}: offset {offset} is past the buffer's {} bytes",
                        buf.len()
                    )));
                }
                Held::Send { fd, buf, offset }
            }
            Op::Shutdown { fd, how } => Held::Shutdown {
                fd,
                how: match how {
                    std::net::Shutdown::Read => libc::SHUT_RD,
                    std::net::Shutdown::Write => libc::SHUT_WR,
                    std::net::Shutdown::Both => libc::SHUT_RDWR,
                },
            },
            Op::AcceptMulti { fd } => Held::AcceptMulti { fd },
            Op::RecvMsg { fd, mut buf } => {
                if buf.capacity() == buf.len() {
                    return Err(invalid(format!(
                        "recvmsg on fd {fd}: the buffer has no spare capacity"
                    )));
                }
                let mut msg = new_msg();
                let m = &mut *msg;
                let spare = buf.spare_capacity_mut();
                m.iov.iov_base = spare.as_mut_ptr().cast();
                m.iov.iov_len = spare.len();
                m.hdr.msg_name = (&mut m.addr as *mut libc::sockaddr_storage).cast();
                m.hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                Held::RecvMsg { fd, buf, msg }
            }
            Op::SendMsg { fd, mut buf, addr } => {
                let mut msg = new_msg();
                let m = &mut *msg;
                m.iov.iov_base = buf.as_mut_ptr().cast();
                m.iov.iov_len = buf.len();
                if let Some(addr) = addr {
                    m.hdr.msg_namelen = sockaddr_in(addr, &mut m.addr);
                    m.hdr.msg_name = (&mut m.addr as *mut libc::sockaddr_storage).cast();
                }
                Held::SendMsg { fd, buf, msg }
            }
        })
    }

    /// The submission entry. Its pointers point into what `self` owns (the
    /// heap memory of the buffers and the boxed message), which stays put
    /// while `self` is moved.
    fn entry(&mut self, ud: u64) -> squeue::Entry {
        let entry = match self {
            Held::RecvMulti { fd } => opcode::RecvMulti::new(types::Fd(*fd), BGID).build(),
            Held::Recv { fd, buf } => {
                let spare = buf.spare_capacity_mut();
                opcode::Recv::new(
                    types::Fd(*fd),
                    spare.as_mut_ptr().cast(),
                    clamp_len(spare.len()),
                )
                .build()
            }
            Held::Send { fd, buf, offset } => {
                let rest = &buf[*offset..];
                opcode::Send::new(types::Fd(*fd), rest.as_ptr(), clamp_len(rest.len()))
                    .flags(libc::MSG_NOSIGNAL)
                    .build()
            }
            Held::Shutdown { fd, how } => opcode::Shutdown::new(types::Fd(*fd), *how).build(),
            Held::AcceptMulti { fd } => opcode::AcceptMulti::new(types::Fd(*fd))
                .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
                .build(),
            Held::RecvMsg { fd, msg, .. } => {
                opcode::RecvMsg::new(types::Fd(*fd), &mut msg.hdr).build()
            }
            Held::SendMsg { fd, msg, .. } => opcode::SendMsg::new(types::Fd(*fd), &msg.hdr)
                .flags(libc::MSG_NOSIGNAL as u32)
                .build(),
        };
        entry.user_data(ud)
    }

    fn is_multishot(&self) -> bool {
        matches!(self, Held::RecvMulti { .. } | Held::AcceptMulti { .. })
    }

    /// The payload of a single-shot operation's final completion.
    fn into_payload(self, res: i32) -> (Payload, Option<SocketAddr>) {
        let n = usize::try_from(res).unwrap_or(0);
        match self {
            Held::Recv { mut buf, .. } => {
                let start = buf.len();
                let end = (start + n).min(buf.capacity());
                // SAFETY: the kernel wrote `n` bytes into the spare capacity
                // (clamped to it), so `start..end` is initialized.
                unsafe { buf.set_len(end) };
                (Payload::Owned { buf, start, end }, None)
            }
            Held::RecvMsg { mut buf, msg, .. } => {
                let start = buf.len();
                let end = (start + n).min(buf.capacity());
                // SAFETY: as for `Recv`.
                unsafe { buf.set_len(end) };
                let addr = if res >= 0 {
                    sockaddr_out(&msg.addr, msg.hdr.msg_namelen)
                } else {
                    None
                };
                (Payload::Owned { buf, start, end }, addr)
            }
            Held::Send { buf, .. } | Held::SendMsg { buf, .. } => (
                Payload::Owned {
                    buf,
                    start: 0,
                    end: 0,
                },
                None,
            ),
            Held::RecvMulti { .. } | Held::Shutdown { .. } | Held::AcceptMulti { .. } => {
                (Payload::None, None)
            }
        }
    }
}

impl Uring {
    /// Takes `op` over and queues it for the next enter.
    pub(crate) fn submit(&mut self, op: Op, handler: Rc<dyn OpHandler>) -> io::Result<OpId> {
        let held = Held::from_op(op)?;
        let id = self.ops.insert(Live {
            handler,
            held,
            cancelled: false,
            starved: false,
        });
        if let Err(e) = self.push_op(id) {
            self.ops.remove(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Pushes the entry of operation `id` (new, or re-armed).
    fn push_op(&mut self, id: OpId) -> io::Result<()> {
        let Some(live) = self.ops.get_mut(id) else {
            return Ok(());
        };
        let entry = live.held.entry(id.0);
        // SAFETY: the entry points into what the table entry of `id` owns
        // (buffers' heap memory, the boxed message), and that table entry
        // is removed only by the operation's final completion; on reactor
        // drop, memory of operations never seen ending is leaked.
        unsafe { self.push(&entry) }
    }

    /// Asks the kernel to cancel `id`. The final completion still comes.
    pub(crate) fn cancel(&mut self, id: OpId) -> io::Result<()> {
        let Some(live) = self.ops.get_mut(id) else {
            return Ok(()); // ended already
        };
        if live.cancelled {
            return Ok(());
        }
        live.cancelled = true;
        if live.starved {
            // Not in the kernel: end it here.
            let live = self.ops.remove(id).expect("present above");
            self.synthetic
                .push((live.handler, Completion::cancelled(id, Payload::None)));
            return Ok(());
        }
        // A multishot receive keeps filling ring buffers until its cancel
        // reaches the kernel (its work can run at any of the thread's
        // system calls, not only at the loop's enter), and its owner, a
        // transport whose reading was paused, holds every chunk that
        // completes meanwhile: that cancel goes in at once (one enter, as a
        // watch's removal), so what is held is what had completed when the
        // pause was asked, not what arrives while the pass runs on.
        let now = matches!(live.held, Held::RecvMulti { .. });
        let entry = opcode::AsyncCancel::new(id.0).build().user_data(UD_IGNORE);
        // SAFETY: a cancel request carries no buffer.
        unsafe { self.push(&entry)? };
        if now { self.submit_now() } else { Ok(()) }
    }

    /// Re-arms starved multishot receives once the ring has buffers again:
    /// as many as there are buffers, oldest first (one that finds the ring
    /// dry again just waits again).
    pub(super) fn rearm_starved(&mut self) -> io::Result<()> {
        let mut budget = self.bufs.available();
        while budget > 0 {
            let Some(index) = self.ops.starved.pop_front() else {
                break;
            };
            let slot = &mut self.ops.slots[index as usize];
            let id = op_id(index, slot.generation);
            match &mut slot.live {
                Some(live) if live.starved => live.starved = false,
                _ => continue,
            }
            budget -= 1;
            self.push_op(id)?;
        }
        Ok(())
    }

    /// An operation's completion entry: hand it to the handler (through
    /// `done`) or, for a multishot operation the kernel ended early, re-arm.
    pub(super) fn op_completed(
        &mut self,
        ud: u64,
        res: i32,
        flags: u32,
        pos: usize,
        done: &mut Done,
    ) {
        let id = OpId(ud);
        let more = cqueue::more(flags);
        let bufs = self.bufs.clone();
        let Some(live) = self.ops.get_mut(id) else {
            return;
        };
        let handler = live.handler.clone();
        if !live.held.is_multishot() {
            let live = self.ops.remove(id).expect("present above");
            let (payload, addr) = live.held.into_payload(res);
            let result = result_of(res);
            done.push((
                pos,
                handler,
                Completion::new(id, result, false, payload, addr),
            ));
            return;
        }
        let recv = matches!(live.held, Held::RecvMulti { .. });
        let payload = match cqueue::buffer_select(flags) {
            Some(bid) => Payload::Ring(BufRing::lease(
                &bufs,
                bid,
                usize::try_from(res).unwrap_or(0),
            )),
            // SAFETY: a successful multishot accept's result is a new
            // descriptor that nothing else owns.
            None if !recv && res >= 0 => Payload::Fd(unsafe { OwnedFd::from_raw_fd(res) }),
            None => Payload::None,
        };
        let cancelled = live.cancelled;
        if res == -libc::ENOBUFS && recv && !more && !cancelled {
            // The ring ran dry: wait for buffers, then re-arm (not reported).
            live.starved = true;
            self.ops.starved.push_back((ud & 0xffff_ffff) as u32);
            return;
        }
        let ended_early = !more && res > 0 || (!more && !recv && res == 0);
        if more || (ended_early && !cancelled) {
            // More follow (re-armed below if the kernel ended it early).
            let result = result_of(res);
            done.push((
                pos,
                handler,
                Completion::new(id, result, true, payload, None),
            ));
            if !more {
                if let Err(e) = self.push_op(id) {
                    let live = self.ops.remove(id).expect("present above");
                    done.push((
                        pos,
                        live.handler,
                        Completion::new(id, Err(e), false, Payload::None, None),
                    ));
                }
            }
            return;
        }
        let live = self.ops.remove(id).expect("present above");
        if recv && res == -libc::ENOBUFS {
            // Cancelled while the ring was dry: the cancel is what ended it.
            done.push((pos, live.handler, Completion::cancelled(id, payload)));
            return;
        }
        if ended_early {
            // Cancelled while the kernel ended it with data: the data, then
            // the cancellation as the final completion.
            done.push((
                pos,
                handler,
                Completion::new(id, Ok(res as usize), true, payload, None),
            ));
            done.push((pos, live.handler, Completion::cancelled(id, Payload::None)));
            return;
        }
        let result = result_of(res);
        done.push((
            pos,
            live.handler,
            Completion::new(id, result, false, payload, None),
        ));
    }
}
