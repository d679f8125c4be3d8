package auth

import "golang.org/x/sys/unix"

// idlePriority moves the calling thread to SCHED_IDLE: it runs only when no
// other thread of the machine wants the CPU, and any waking one preempts it.
func idlePriority() error {
	return unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0)
}
