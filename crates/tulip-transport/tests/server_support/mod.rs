//! Helpers shared by the server tests: an echo protocol that counts its
//! connections and checks the order of its callbacks. The loop runner
//! comes from `tulip-test`.

#![allow(dead_code)]

use std::cell::Cell;
use std::rc::Rc;

use tulip_transport::{BaseProtocol, Error, Protocol, Transport};

/// What every protocol of a server saw.
#[derive(Clone, Default)]
pub struct Counts {
    pub made: Rc<Cell<usize>>,
    pub lost: Rc<Cell<usize>>,
    /// Calls out of order: a second connection_made, anything before
    /// connection_made or after connection_lost.
    pub violations: Rc<Cell<usize>>,
}

impl Counts {
    /// A factory of echo protocols counting here.
    pub fn factory(&self) -> impl FnMut() -> Echo + 'static {
        let counts = self.clone();
        move || Echo::new(&counts)
    }

    pub fn made(&self) -> usize {
        self.made.get()
    }

    pub fn lost(&self) -> usize {
        self.lost.get()
    }

    pub fn violations(&self) -> usize {
        self.violations.get()
    }
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

/// Echoes what it receives.
pub struct Echo {
    counts: Counts,
    transport: Option<Transport>,
    made: bool,
    lost: bool,
}

impl Echo {
    pub fn new(counts: &Counts) -> Echo {
        Echo {
            counts: counts.clone(),
            transport: None,
            made: false,
            lost: false,
        }
    }

    fn check(&self) {
        if !self.made || self.lost {
            bump(&self.counts.violations);
        }
    }
}

impl BaseProtocol for Echo {
    fn connection_lost(&mut self, _exc: Option<Error>) {
        self.check();
        self.lost = true;
        bump(&self.counts.lost);
        self.transport = None;
    }
    fn pause_writing(&mut self) {
        self.check();
    }
    fn resume_writing(&mut self) {
        self.check();
    }
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        if self.made || self.lost {
            bump(&self.counts.violations);
        }
        self.made = true;
        bump(&self.counts.made);
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.check();
        if let Some(t) = &self.transport {
            t.write(data).unwrap();
        }
    }
    fn eof_received(&mut self) -> bool {
        self.check();
        false
    }
}
