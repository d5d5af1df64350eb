package farm

// Calls with a sticky key (CallOptions.Key) are routed when they enter the
// queue (submission or retry) to a worker slot chosen by rendezvous
// hashing (highest random weight): of the slots whose current worker is
// online, the one for which a hash of the key and the slot's index is the
// highest. A key therefore stays on its slot while its worker lives, and
// when a slot loses its worker only that slot's keys move (each to its
// next choice), and come back once the slot's replacement is online. A
// routed call waits in its slot's queue of keyed calls, by priority, and
// runs only on that slot's worker, even while other workers are idle; when
// the slot's worker goes away first, its keyed calls are routed again.
// With no worker online, a keyed call waits in the farm's queue and runs
// on the first worker free.

// keyHash hashes a sticky key (FNV-1a, 64 bits).
func keyHash(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return h
}

// weight is the rendezvous weight of slot index i for the key hashed as h:
// splitmix64's finaliser of their combination.
func weight(h uint64, i int) uint64 {
	x := h + uint64(i+1)*0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// routeLocked returns the slot for the key hashed as h: of the slots
// whose current worker is online, the one of the highest weight; nil if
// there is none.
func (f *Farm) routeLocked(h uint64) *slot {
	var best *slot
	var bw uint64
	for _, s := range f.slots {
		if !s.cur.online() {
			continue
		}
		if w := weight(h, s.index); best == nil || w > bw {
			best, bw = s, w
		}
	}
	return best
}

// dispatchKeyedLocked sends each slot's keyed calls to its worker while it
// has room and is not kept for a call that must run alone.
func (f *Farm) dispatchKeyedLocked(drain *drainSet, fl *flushList) {
	if f.keyed == 0 {
		return
	}
	for _, s := range f.slots {
		if s.keyed.len() == 0 {
			continue
		}
		n := s.keyed.len()
		w := s.cur
		for s.keyed.next() != nil && w.hasRoom() && !drain.has(w) {
			f.startLocked(s.keyed.pop(), w, fl)
		}
		f.keyed -= n - s.keyed.len()
	}
}

// rerouteLocked routes again the keyed calls waiting for s when s has no
// online worker any more; it runs wherever a slot's current worker may
// leave.
func (f *Farm) rerouteLocked(s *slot) {
	if s.keyed.len() == 0 || s.cur.online() {
		return
	}
	f.keyed -= s.keyed.len()
	var moved deque[*call]
	for s.keyed.next() != nil {
		moved.pushBack(s.keyed.pop())
	}
	s.keyed = prioQueue{}
	for moved.len() > 0 {
		c := moved.popFront()
		f.queued--
		f.enqueueLocked(c, false)
	}
}

// failKeyedLocked answers every keyed call waiting for s with err.
func (f *Farm) failKeyedLocked(s *slot, err error) {
	f.keyed -= s.keyed.len()
	for s.keyed.next() != nil {
		f.settleLocked(s.keyed.pop(), nil, err)
	}
	s.keyed = prioQueue{}
}
